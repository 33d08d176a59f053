"""Agent metrics on prometheus_client: the names the Grafana dashboards query.

Each `AgentMetrics` owns its own `CollectorRegistry` (the global one only when
asked), so two agents in one process, or a test, never share counters. Label
children are cached per label set. Under `PROMETHEUS_MULTIPROC_DIR` (set before
prometheus_client is imported), values live in that directory's files and the
exposition aggregates every process's values.

The step's own metrics (steps, step duration, SDK overhead, audit events recorded)
are updated on every step: a prometheus_client `inc` or `observe` takes a lock per
value (and a histogram walks its buckets in Python), microseconds each. Outside
multiprocess mode those observations are appended to a deque (atomic, ~0.05 µs) and
applied in bulk, counts summed and values bucketed with `bisect`, before anything
reads the registry (every scrape and exposition: a collector registered ahead of the
families applies them) or once a few thousand are waiting. What a scrape shows is
exactly what it would have shown.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.metrics_core import Metric

from agents_sdk import environment as env
from agents_sdk.custom_metrics import CustomMetrics, MetricType

# Seconds: agent steps and LLM calls span ms..minutes; tools ms..tens of seconds.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Time spent inside the SDK per step: microseconds to a few milliseconds.
GC_PAUSE_BUCKETS = (1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5)
OVERHEAD_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2)


_APPLY_AT = 4096  # observations waiting before the recording thread applies them itself


class _Batched:
    """Observations of one counter or histogram child, waiting to be applied in bulk."""

    __slots__ = ("child", "values", "bounds", "owner")

    def __init__(self, child: Any, owner: _Pending, histogram: bool):
        self.child = child
        self.values: deque[float] = deque()
        self.bounds = list(child._upper_bounds) if histogram else None
        self.owner = owner

    def inc(self, amount: float = 1.0) -> None:
        values = self.values
        values.append(amount)
        if len(values) >= _APPLY_AT:
            self.owner.apply()

    observe = inc

    def apply(self) -> None:
        values = self.values
        taken = [values.popleft() for _ in range(len(values))]  # appends may go on meanwhile
        if not taken:
            return
        child = self.child
        bounds = self.bounds
        if bounds is None:
            child.inc(sum(taken))
            return
        counts = [0] * len(bounds)
        for value in taken:
            if value == value:  # as observe(): NaN goes in the sum, in no bucket
                counts[bisect_left(bounds, value)] += 1
        buckets = child._buckets
        for i, count in enumerate(counts):
            if count:
                buckets[i].inc(count)
        child._sum.inc(sum(taken))


class _Pending:
    """Every batched child of one AgentMetrics; a collector, so a scrape applies them first."""

    def __init__(self) -> None:
        self._children: list[_Batched] = []
        self._lock = threading.Lock()

    def add(self, child: Any, histogram: bool = False) -> _Batched:
        batched = _Batched(child, self, histogram)
        with self._lock:
            self._children.append(batched)
        return batched

    def apply(self) -> None:
        with self._lock:
            for batched in self._children:
                batched.apply()

    # The registry's collector protocol: apply, describe and yield nothing of its own.
    def collect(self) -> Iterable[Metric]:
        self.apply()
        return ()

    def describe(self) -> Iterable[Metric]:
        return ()


def multiprocess_dir() -> str | None:
    return env.text(env.PROMETHEUS_MULTIPROC_DIR)


class _RefreshingRegistry(CollectorRegistry):
    """A registry that lets its owner bring derived values up to date before each scrape."""

    def __init__(self) -> None:
        super().__init__(auto_describe=True)
        self.before_collect: Callable[[], None] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.before_collect is not None:
            self.before_collect()
        return super().collect()


class _MultiProcessView(CollectorRegistry):
    """The exposition registry in multiprocess mode: every process's files, refreshed first."""

    def __init__(self, path: str, refresh: Callable[[], None]):
        super().__init__()
        prom_multiprocess.MultiProcessCollector(self, path=path)  # type: ignore[no-untyped-call]
        self._refresh = refresh

    def collect(self) -> Iterable[Metric]:
        self._refresh()
        return super().collect()


class AgentMetrics:
    """The agent metric families, labelled with one `agent_id`."""

    enabled = True

    def __init__(self, agent_id: str, registry: CollectorRegistry | None = None):
        self.agent_id = agent_id
        self.registry = registry if registry is not None else _RefreshingRegistry()
        self._server: Any = None
        self._progress: Callable[[], tuple[int, int]] | None = None
        self._shipped_seen = 0
        self._progress_lock = threading.Lock()
        r = self.registry
        # Registered before the families, so a scrape applies waiting observations first.
        self._pending: _Pending | None = None
        if multiprocess_dir() is None:
            self._pending = _Pending()
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
        self._gc_pauses = [self.gc_pause.labels(a, str(g)) for g in range(3)]
        _GC_TIMED.add(self)
        self._children: dict[tuple[int, ...] | tuple[Any, ...], Any] = {}
        self.custom = CustomMetrics(agent_id, self.registry)
        if isinstance(self.registry, _RefreshingRegistry):
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
        return _MultiProcessView(path, self.refresh_audit_progress)

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


def resident_memory_bytes() -> int | None:
    """This process's resident set size (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Every live AgentMetrics of the process observes each collection's pause (one callback).
_GC_TIMED: weakref.WeakSet[AgentMetrics] = weakref.WeakSet()
_gc_started: list[float] = []


def _time_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        if _GC_TIMED:
            _gc_started[:] = [time.perf_counter()]
        return
    if not _gc_started:
        return
    pause = time.perf_counter() - _gc_started.pop()
    generation = info.get("generation", 0)
    for metrics in list(_GC_TIMED):
        if 0 <= generation < len(metrics._gc_pauses):
            metrics._gc_pauses[generation].observe(pause)


gc.callbacks.append(_time_gc)


def global_registry() -> CollectorRegistry:
    """prometheus_client's process-wide registry, for callers who ask for it explicitly."""
    return REGISTRY
