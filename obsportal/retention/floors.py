"""Statutory floors: the shortest retention a framework's law allows, with its source.

Configurable (settings.OBSPORTAL_RETENTION_FLOORS, by framework); a policy of that
framework with a shorter period is refused when requested and again when approved.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# HIPAA: 6 years = 2,191.5 days, rounded up so no leap-year reading falls short.
DEFAULT_FLOORS: dict[str, dict[str, object]] = {
    "hipaa": {
        "days": 2192,
        "source": "HIPAA, 45 CFR 164.316(b)(2)(i): retain required documentation 6 years "
        "from its creation or last effective date",
    },
    "eu_ai_act": {
        "days": 183,
        "source": "EU AI Act (Regulation (EU) 2024/1689) Art. 19(1) (providers) and Art. 26(6) "
        "(deployers): automatically generated logs kept at least six months",
    },
}


@dataclass(frozen=True)
class Floor:
    framework: str
    days: int
    source: str


def floors() -> dict[str, Floor]:
    configured = getattr(settings, "OBSPORTAL_RETENTION_FLOORS", DEFAULT_FLOORS)
    return {
        framework: Floor(framework, int(value["days"]), str(value["source"]))
        for framework, value in configured.items()
    }


def floor_for(framework: str) -> Floor | None:
    return floors().get(framework)


class BelowStatutoryFloor(ValueError):
    """A retention period shorter than its framework's law allows."""

    def __init__(self, floor: Floor, keep_days: int) -> None:
        self.floor, self.keep_days = floor, keep_days
        super().__init__(
            f"{keep_days} days is below the statutory floor of {floor.days} days for "
            f"{floor.framework}: {floor.source}"
        )


def check_floor(framework: str, keep_days: int) -> None:
    floor = floor_for(framework)
    if floor is not None and keep_days < floor.days:
        raise BelowStatutoryFloor(floor, keep_days)
