"""The facade's conveniences: the agent's own metrics, timers, which parts are on, and
queries over the local journal (what the reference's ObservabilityManager offered, in
this SDK's style: synchronous, keyword filters, nothing on the network)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agents_sdk.timers import Timer

if TYPE_CHECKING:
    from agents_sdk._off import NoMetrics, NoTracing
    from agents_sdk.audit.journal import JournalWriter
    from agents_sdk.custom_metrics import MetricType
    from agents_sdk.metrics import AgentMetrics
    from agents_sdk.tracing import AgentTracing

PARTS = ("audit", "metrics", "logging", "tracing")


class Conveniences:
    """Mixed into Observability; uses its parts."""

    metrics: AgentMetrics | NoMetrics
    tracing: AgentTracing | NoTracing
    journal: JournalWriter | None
    logger: Any

    # --- the agent's own metrics --------------------------------------------------------

    def record_metric(
        self,
        name: str,
        value: float,
        type: MetricType = "counter",  # noqa: A002 - the reference's keyword
        labels: Mapping[str, str] | None = None,
        *,
        description: str = "",
        buckets: Sequence[float] | None = None,
    ) -> None:
        """Add to a counter, set a gauge or observe a histogram, by name, with labels.

        The family is created on first use on the agent's registry (with `agent_id`);
        with metrics off this does nothing. See `agents_sdk.custom_metrics`.
        """
        self.metrics.record(name, value, type, labels, description, buckets)

    def timer(self, name: str, labels: Mapping[str, str] | None = None) -> Timer:
        """Time a block (`with`, `async with`) or a function (decorator) into the histogram
        `name`, in seconds."""
        metrics = self.metrics
        if not metrics.enabled:
            return Timer(_ignore)
        fixed = dict(labels or {})
        return Timer(lambda seconds: metrics.record(name, seconds, "histogram", fixed))

    # --- which parts are on -------------------------------------------------------------

    def enabled_parts(self) -> frozenset[str]:
        """The names of the parts that are on: some of audit, metrics, logging, tracing."""
        on = {
            "audit": self.journal is not None,
            "metrics": self.metrics.enabled,
            "logging": not self.logger.disabled,
            "tracing": self.tracing.enabled,
        }
        return frozenset(name for name, enabled in on.items() if enabled)

    def is_enabled(self, part: str) -> bool:
        """Whether `part` (audit, metrics, logging or tracing) is on."""
        if part not in PARTS:
            raise ValueError(f"{part!r} is not a part; the parts are {', '.join(PARTS)}")
        return part in self.enabled_parts()

    # --- audit queries (the local journal) ------------------------------------------------

    def query_audit(
        self,
        *,
        agent_id: str | None = None,
        action: str | None = None,
        user_id: str | None = None,
        result: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        user_match: str = "exact",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """This agent's recorded events that match every filter given, oldest first.

        Reads the local journal (all its files) after making what was recorded durable;
        the time range is [since, until). For the portal's copy use its REST API.
        """
        from agents_sdk.audit.query import EventFilter, query

        if self.journal is None:
            raise RuntimeError("audit is off: there is no journal to query")
        self.journal.flush(timeout=5.0)
        where = EventFilter.build(
            agent_id=agent_id, action=action, user_id=user_id, result=result,
            since=since, until=until, user_match=user_match,
        )  # fmt: skip
        found: list[dict[str, Any]] = []
        for event in query(os.fspath(self.journal.path), where):
            found.append(event)
            if limit is not None and len(found) >= limit:
                break
        return found


def _ignore(seconds: float) -> None:
    pass
