"""The frameworks a report can be run for, by key."""

from __future__ import annotations

from collections.abc import Callable

from obsportal.compliance.reports import ai_act, gdpr, hipaa, soc2
from obsportal.compliance.reports.base import Framework

FRAMEWORKS: dict[str, Callable[[], Framework]] = {
    "soc2": soc2.framework,
    "gdpr": gdpr.framework,
    "hipaa": hipaa.framework,
    "ai_act": ai_act.framework,
}


class UnknownFramework(LookupError):
    pass


def framework(key: str) -> Framework:
    try:
        return FRAMEWORKS[key]()
    except KeyError:
        raise UnknownFramework(f"no framework {key!r}; known: {', '.join(FRAMEWORKS)}") from None


def choices() -> list[tuple[str, str]]:
    return [(key, make().title) for key, make in FRAMEWORKS.items()]
