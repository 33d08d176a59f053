"""What part of the record a person may see: every agent and all time, or an auditor's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet


@dataclass(frozen=True)
class AccessScope:
    """Agents (None: all) and a half-open period [since, until) (None: unbounded)."""

    agents: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def unlimited(self) -> bool:
        return self.agents is None and self.since is None and self.until is None

    def allows_agent(self, agent_id: str) -> bool:
        return self.agents is None or agent_id in self.agents

    def allows_event(self, agent_id: str, ts: datetime) -> bool:
        if not self.allows_agent(agent_id):
            return False
        if self.since is not None and ts < self.since:
            return False
        return self.until is None or ts < self.until

    def filter_events(self, events: QuerySet, agent_field: str = "agent_id", ts_field: str = "ts"):
        """`events` narrowed to the scope (audit rows, or anything with an agent and a time)."""
        if self.agents is not None:
            events = events.filter(**{f"{agent_field}__in": sorted(self.agents)})
        if self.since is not None:
            events = events.filter(**{f"{ts_field}__gte": self.since})
        if self.until is not None:
            events = events.filter(**{f"{ts_field}__lt": self.until})
        return events

    def filter_agents(self, rows: QuerySet, agent_field: str = "agent_id"):
        """`rows` (streams, credentials) narrowed to the scope's agents."""
        if self.agents is None:
            return rows
        return rows.filter(**{f"{agent_field}__in": sorted(self.agents)})

    def describe(self) -> str:
        parts = []
        if self.agents is not None:
            parts.append("agents " + ", ".join(sorted(self.agents)))
        if self.since is not None or self.until is not None:
            since = self.since.isoformat() if self.since else "the beginning"
            until = self.until.isoformat() if self.until else "now"
            parts.append(f"from {since} to {until}")
        return "; ".join(parts) or "everything"


EVERYTHING = AccessScope()
NOTHING = AccessScope(agents=frozenset())
