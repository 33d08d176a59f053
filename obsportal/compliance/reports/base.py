"""The spec of a report: a framework declares sections; a section names its controls, what it
shows, and the populations (selector queries) that compute it.

Framework labels are data: a `Population` is a query, and the same query may appear under
SOC 2 CC7.2, HIPAA 164.312(b) and NIST AI RMF MEASURE 2.4 — each label is a `Control` of the
section, never a second implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The trail's agent id; the portal's own events are a population like any agent's.
TRAIL = "obsportal"


@dataclass(frozen=True)
class Control:
    """One control of one framework: its id as the framework prints it, and a short title
    (the ids and titles only: SOC 2 criteria texts are AICPA's, see COMPLIANCE.md §6)."""

    framework: str
    id: str
    title: str

    def label(self) -> str:
        return f"{self.framework} {self.id}"


@dataclass(frozen=True)
class Population:
    """Every record of one kind in the period: counted, attached as CSV, sampled.

    `source` names a selector in `sources.SOURCES`; `params` are its filter (for `events`,
    exactly the query parameters of GET /api/v1/events/, the period added by the run).
    `exception`: each record is an exception the auditor follows up (a chain break, a
    self-approval); a section with one shows "exceptions".
    """

    key: str
    title: str
    source: str
    params: dict[str, str] = field(default_factory=dict)
    exception: bool = False
    # A narrowing the API cannot express, applied to the source's rows (sources.PREDICATES).
    predicate: str | None = None


@dataclass(frozen=True)
class Breakdown:
    """A grouped count over an events population (e.g. events per agent and action): each
    row is the count GET /api/v1/events/ gives for the same filter plus the row's values."""

    key: str
    title: str
    params: dict[str, str]
    group_by: tuple[str, ...]


def trail_events(
    key: str, title: str, action: str, *, exception: bool = False, predicate: str | None = None
) -> Population:
    """The events the portal's own trail recorded with `action` in the period."""
    return Population(
        key,
        title,
        "events",
        {"agent_id": TRAIL, "action": action},
        exception=exception,
        predicate=predicate,
    )


# Queries several frameworks show under their own controls (labels are data, the query one).
FORKS = Population("forks", "Forks refused and recorded", "forks", exception=True)
INCIDENT_EVENTS = trail_events("incident_events", "Incidents on the trail", "integrity.incident")
EVENTS_BY_AGENT = Breakdown(
    "events_by_agent", "Events by agent and action", {}, ("agent_id", "action")
)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    controls: tuple[Control, ...]
    shows: str
    populations: tuple[Population, ...] = ()
    breakdowns: tuple[Breakdown, ...] = ()
    # Computed statements that are not populations (retention, clocks): names in
    # `statements.STATEMENTS`, each returning rows and the query that made them.
    statements: tuple[str, ...] = ()
    # What this section does not prove, printed under it.
    limits: str = ""


@dataclass(frozen=True)
class Framework:
    key: str
    title: str
    summary: str
    sections: tuple[Section, ...]

    def controls(self) -> list[Control]:
        seen: dict[str, Control] = {}
        for section in self.sections:
            for control in section.controls:
                seen.setdefault(control.label(), control)
        return list(seen.values())

    def as_spec(self) -> dict[str, Any]:
        """The spec as data (the API's framework list and the report's header)."""
        return {
            "key": self.key,
            "title": self.title,
            "summary": self.summary,
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "controls": [c.label() for c in s.controls],
                    "shows": s.shows,
                }
                for s in self.sections
            ],
        }
