"""The agent's own metrics by name: counters, gauges and histograms on its registry.

    obs.record_metric("tickets_closed", 1, type="counter", labels={"queue": "billing"})
    obs.record_metric("queue_depth", 17, type="gauge")
    obs.record_metric("answer_words", 212, type="histogram", labels={"model": "gpt-4o"})

A family is created on first use, with `agent_id` plus the label names of that first
call; later calls must use the same type and label names (Prometheus needs one
schema per name). Counters take non-negative increments, gauges the value to set,
histograms an observation (buckets: prometheus_client's default, or `buckets=` on
first use). The families live on the agent's own registry, so `/metrics`,
`obs.metrics.exposition()` and a multiprocess scrape all show them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MetricType = Literal["counter", "gauge", "histogram"]
_KINDS: dict[str, Any] = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


class CustomMetrics:
    """Families by name on one registry, each labelled with the agent's id first."""

    def __init__(self, agent_id: str, registry: CollectorRegistry):
        self._agent_id = agent_id
        self._registry = registry
        self._families: dict[str, tuple[str, tuple[str, ...], Any]] = {}
        self._children: dict[tuple[str, tuple[str, ...]], tuple[str, Any]] = {}
        self._lock = threading.Lock()

    def family(
        self,
        name: str,
        kind: MetricType,
        label_names: Sequence[str] = (),
        description: str = "",
        buckets: Sequence[float] | None = None,
    ) -> Any:
        """The prometheus_client family `name` (created with these labels on first use)."""
        names = tuple(sorted(label_names))
        with self._lock:
            known = self._families.get(name)
            if known is None:
                if kind not in _KINDS:
                    raise ValueError(f"type {kind!r} is not one of counter, gauge, histogram")
                if "agent_id" in names:
                    raise ValueError("agent_id is set by the SDK; leave it out of labels")
                options: dict[str, Any] = {"registry": self._registry}
                if kind == "histogram" and buckets is not None:
                    options["buckets"] = tuple(buckets)
                if kind == "gauge":
                    options["multiprocess_mode"] = "livesum"
                family = _KINDS[kind](
                    name, description or f"{name} (recorded by the agent)",
                    ["agent_id", *names], **options,
                )  # fmt: skip
                known = self._families[name] = (kind, names, family)
        if known[0] != kind or known[1] != names:
            raise ValueError(
                f"metric {name!r} is a {known[0]} labelled {list(known[1])}; it cannot be "
                f"recorded as a {kind} labelled {list(names)}"
            )
        return known[2]

    def record(
        self,
        name: str,
        value: float,
        kind: MetricType = "counter",
        labels: Mapping[str, str] | None = None,
        description: str = "",
        buckets: Sequence[float] | None = None,
    ) -> None:
        labels = labels or {}
        names = tuple(sorted(labels))
        key = (name, tuple(str(labels[n]) for n in names))
        cached = self._children.get(key)
        if cached is None or cached[0] != kind:
            family = self.family(name, kind, names, description, buckets)  # checks the schema
            cached = self._children[key] = (kind, family.labels(self._agent_id, *key[1]))
        child = cached[1]
        if kind == "counter":
            child.inc(value)
        elif kind == "gauge":
            child.set(value)
        else:
            child.observe(value)
