"""Agent metrics on prometheus_client: the names the Grafana dashboards query.

Each `AgentMetrics` owns its own `CollectorRegistry` (the global one only when
asked), so two agents in one process, or a test, never share counters. Label
children are cached per label set. Under `PROMETHEUS_MULTIPROC_DIR` (set before
prometheus_client is imported), values live in that directory's files and the
exposition aggregates every process's values (`agents_sdk.metrics_registries`).

The step's own metrics (steps, step duration, SDK overhead, audit events recorded)
are updated on every step; outside multiprocess mode they are queued and applied in
bulk before any scrape (`agents_sdk.metrics_batching`). The process's memory and GC
pauses are `agents_sdk.process_metrics`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import multiprocess as prom_multiprocess

from agents_sdk.custom_metrics import CustomMetrics, MetricType
from agents_sdk.metrics_batching import PendingObservations
from agents_sdk.metrics_registries import (
    MultiProcessView,
    RefreshingRegistry,
    global_registry,
    multiprocess_dir,
)
from agents_sdk.process_metrics import resident_memory_bytes, time_gc_pauses

# The names this module has always offered, wherever they now live.
__all__ = [
    "GC_PAUSE_BUCKETS",
    "OVERHEAD_BUCKETS",
    "STEP_BUCKETS",
    "AgentMetrics",
    "global_registry",
    "multiprocess_dir",
    "resident_memory_bytes",
]

# Seconds: agent steps and LLM calls span ms..minutes; tools ms..tens of seconds.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
GC_PAUSE_BUCKETS = (1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5)
# Time spent inside the SDK per step: microseconds to a few milliseconds.
OVERHEAD_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2)


class AgentMetrics:
    """The agent metric families, labelled with one `agent_id`."""

    enabled = True

    def __init__(self, agent_id: str, registry: CollectorRegistry | None = None):
        self.agent_id = agent_id
        self.registry = registry if registry is not None else RefreshingRegistry()
        self._server: Any = None
        self._progress: Callable[[], tuple[int, int]] | None = None
        self._shipped_seen = 0
        self._progress_lock = threading.Lock()
        r = self.registry
        # Registered before the families, so a scrape applies waiting observations first.
        self._pending: PendingObservations | None = None
        if multiprocess_dir() is None:
            self._pending = PendingObservations()
            r.register(self._pending)
        self.steps = Counter(
            "agent_steps", "Agent steps by outcome.", ["agent_id", "status"], registry=r
        )
        self.step_duration = Histogram(
            "agent_step_duration_seconds",
            "Wall time of one agent step.",
            ["agent_id"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "agent_tool_calls", "Tool calls by tool and outcome.",
            ["agent_id", "tool", "status"], registry=r,
        )  # fmt: skip
        self.tool_duration = Histogram(
            "agent_tool_duration_seconds",
            "Wall time of one tool call.",
            ["agent_id", "tool"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.llm_calls = Counter(
            "agent_llm_calls", "LLM calls by provider, model and outcome.",
            ["agent_id", "provider", "model", "status"], registry=r,
        )  # fmt: skip
        self.llm_duration = Histogram(
            "agent_llm_duration_seconds",
            "Wall time of one LLM call.",
            ["agent_id", "provider", "model"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter(
            "agent_llm_tokens", "LLM tokens by direction (input|output).",
            ["agent_id", "provider", "model", "direction"], registry=r,
        )  # fmt: skip
        self.llm_cost = Counter(
            "agent_llm_cost_usd", "LLM cost in US dollars as reported by the caller.",
            ["agent_id", "provider", "model"], registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "agent_errors", "Errors raised in agent steps, LLM and tool calls, by kind.",
            ["agent_id", "kind"], registry=r,
        )  # fmt: skip
        self.permissions = Counter(
            "agent_permission_requests", "Permission requests by decision (granted|denied).",
            ["agent_id", "decision"], registry=r,
        )  # fmt: skip
        self.audit_recorded = Counter(
            "agent_audit_events_recorded", "Audit events appended to the local journal.",
            ["agent_id"], registry=r,
        )  # fmt: skip
        self.audit_shipped = Counter(
            "agent_audit_events_shipped", "Audit events acknowledged by the portal.",
            ["agent_id"], registry=r,
        )  # fmt: skip
        self.audit_pending = Gauge(
            "agent_audit_events_pending", "Audit events recorded but not yet acknowledged.",
            ["agent_id"], multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.batches_refused = Counter(
            "agent_audit_batches_refused", "Audit batches the portal refused, by reason code.",
            ["agent_id", "reason"], registry=r,
        )  # fmt: skip
        self.spans_dropped = Counter(
            "agent_spans_dropped",
            "Spans that never reached the collector: the export queue was full, or the "
            "export failed or was abandoned at shutdown.",
            ["agent_id"], registry=r,
        )  # fmt: skip
        self.memory = Gauge(
            "agent_process_resident_memory_bytes", "Resident memory of the agent's process.",
            ["agent_id"], multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.gc_pause = Histogram(
            "agent_gc_pause_seconds",
            "Time the agent's process spent in each garbage collection, by generation.",
            ["agent_id", "generation"], buckets=GC_PAUSE_BUCKETS, registry=r,
        )  # fmt: skip
        self.overhead = Histogram(
            "agent_observability_overhead_seconds",
            "Time spent inside the observability SDK per agent step.",
            ["agent_id"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        # Children for the labels that never change, resolved once.
        a = agent_id
        self._step_duration = self._batched(self.step_duration.labels(a), histogram=True)
        self._audit_recorded = self._batched(self.audit_recorded.labels(a))
        self._step_counts: dict[str, Any] = {}
        self._audit_shipped = self.audit_shipped.labels(a)
        self._audit_pending = self.audit_pending.labels(a)
        self._spans_dropped = self.spans_dropped.labels(a)
        self._overhead = self._batched(self.overhead.labels(a), histogram=True)
        self._memory = self.memory.labels(a)
        time_gc_pauses(self, [self.gc_pause.labels(a, str(g)) for g in range(3)])
        self._children: dict[tuple[int, ...] | tuple[Any, ...], Any] = {}
        self.custom = CustomMetrics(agent_id, self.registry)
        if isinstance(self.registry, RefreshingRegistry):
            self.registry.before_collect = self.refresh_audit_progress

    def _batched(self, child: Any, histogram: bool = False) -> Any:
        if self._pending is None:
            return child
        return self._pending.add(child, histogram)

    def apply_pending(self) -> None:
        """Apply the observations still waiting (a scrape does this itself)."""
        if self._pending is not None:
            self._pending.apply()

    def _child(self, family: Any, *labels: str) -> Any:
        key = (id(family), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(self.agent_id, *labels)
        return child

    # --- what the hooks and the facade report -------------------------------------------

    def step(self, status: str, seconds: float) -> None:
        counter = self._step_counts.get(status)
        if counter is None:
            counter = self._step_counts[status] = self._batched(self._child(self.steps, status))
        counter.inc()
        self._step_duration.observe(seconds)

    def tool_call(self, tool: str, status: str, seconds: float) -> None:
        self._child(self.tool_calls, tool, status).inc()
        self._child(self.tool_duration, tool).observe(seconds)

    def llm_call(
        self,
        provider: str,
        model: str,
        status: str,
        seconds: float,
        input_tokens: int | None,
        output_tokens: int | None,
        cost_usd: float | None,
    ) -> None:
        self._child(self.llm_calls, provider, model, status).inc()
        self._child(self.llm_duration, provider, model).observe(seconds)
        if input_tokens:
            self._child(self.llm_tokens, provider, model, "input").inc(input_tokens)
        if output_tokens:
            self._child(self.llm_tokens, provider, model, "output").inc(output_tokens)
        if cost_usd:
            self._child(self.llm_cost, provider, model).inc(cost_usd)

    def error(self, kind: str) -> None:
        self._child(self.errors, kind).inc()

    def permission(self, granted: bool) -> None:
        self._child(self.permissions, "granted" if granted else "denied").inc()

    def audit_event_recorded(self) -> None:
        self._audit_recorded.inc()

    def record(
        self,
        name: str,
        value: float,
        kind: MetricType = "counter",
        labels: Mapping[str, str] | None = None,
        description: str = "",
        buckets: Sequence[float] | None = None,
    ) -> None:
        """One of the agent's own metrics, by name (see agents_sdk.custom_metrics)."""
        self.custom.record(name, value, kind, labels, description, buckets)

    def batch_refused(self, reason: str) -> None:
        self._child(self.batches_refused, reason).inc()

    def span_dropped(self, count: int = 1) -> None:
        self._spans_dropped.inc(count)

    def step_overhead(self, seconds: float) -> None:
        self._overhead.observe(seconds)

    # --- audit progress (derived from the journal and the shipper) ---------------------

    def track_audit_progress(self, progress: Callable[[], tuple[int, int]]) -> None:
        """`progress()` returns (shipped so far, pending now); read at scrape and on record."""
        self._progress = progress
        self._shipped_seen = progress()[0]
        self.refresh_audit_progress()

    def refresh_audit_progress(self) -> None:
        """Before a scrape: the audit progress, and the process's resident memory."""
        resident = resident_memory_bytes()
        if resident is not None:
            self._memory.set(resident)
        if self._progress is None:
            return
        with self._progress_lock:
            shipped, pending = self._progress()
            if shipped > self._shipped_seen:
                self._audit_shipped.inc(shipped - self._shipped_seen)
                self._shipped_seen = shipped
            self._audit_pending.set(pending)

    # --- exposition ----------------------------------------------------------------------

    def exposition_registry(self) -> CollectorRegistry:
        """What a scrape should read: this registry, or every process's under multiprocess."""
        path = multiprocess_dir()
        if path is None:
            return self.registry
        return MultiProcessView(path, self.refresh_audit_progress)

    def exposition(self) -> bytes:
        """The Prometheus text exposition (what `/metrics` serves)."""
        return generate_latest(self.exposition_registry())

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve `/metrics` on a daemon thread; returns the bound port (0 picks a free one)."""
        self._server, _ = start_http_server(port, addr=addr, registry=self.exposition_registry())
        bound: int = self._server.server_port
        return bound

    def shutdown(self) -> None:
        self.apply_pending()
        self.refresh_audit_progress()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if multiprocess_dir() is not None:
            # Live gauges of this process stop counting; its counters stay in the totals.
            prom_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
