"""The selection a bundle states (an agent, since <= ts < until), re-derived event by event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents_sdk.offline.bundle_format import parse_time


@dataclass
class Query:
    agent_id: str
    since: datetime | None
    until: datetime | None
    text: dict[str, Any]

    def selects(self, event: dict[str, Any]) -> bool:
        if event.get("agent_id") != self.agent_id:
            return False
        ts = parse_time(event.get("ts"), "ts")
        return (self.since is None or ts >= self.since) and (self.until is None or ts < self.until)  # type: ignore[operator]

    def describe(self) -> str:
        since, until = self.text.get("since"), self.text.get("until")
        if since and until:
            span = f"with {since} <= ts < {until}"
        elif since:
            span = f"with ts >= {since}"
        elif until:
            span = f"with ts < {until}"
        else:
            span = "of all time"
        return f"agent {self.agent_id} {span}"
