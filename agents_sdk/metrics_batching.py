"""The step's metric observations, queued on the hot path and applied in bulk.

A prometheus_client `inc` or `observe` takes a lock per value (and a histogram walks its
buckets in Python), microseconds each. Outside multiprocess mode the step's own
observations are appended to a deque instead (atomic, ~0.05 µs) and applied in bulk,
counts summed and values bucketed with `bisect`, before anything reads the registry
(`PendingObservations` is a collector registered ahead of the families) or once a few
thousand are waiting. What a scrape shows is exactly what it would have shown.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import Metric

APPLY_AT = 4096  # observations waiting before the recording thread applies them itself


class BatchedChild:
    """Observations of one counter or histogram child, waiting to be applied in bulk."""

    __slots__ = ("child", "values", "bounds", "owner")

    def __init__(self, child: Any, owner: PendingObservations, histogram: bool):
        self.child = child
        self.values: deque[float] = deque()
        self.bounds = list(child._upper_bounds) if histogram else None
        self.owner = owner

    def inc(self, amount: float = 1.0) -> None:
        values = self.values
        values.append(amount)
        if len(values) >= APPLY_AT:
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
        # No public bulk observe exists (observe() is the per-value lock this avoids), so the
        # histogram child's own bucket and sum values are added to (prometheus_client 0.26).
        buckets = child._buckets
        for i, count in enumerate(counts):
            if count:
                buckets[i].inc(count)
        child._sum.inc(sum(taken))


class PendingObservations:
    """Every batched child of one AgentMetrics; a collector, so a scrape applies them first."""

    def __init__(self) -> None:
        self._children: list[BatchedChild] = []
        self._lock = threading.Lock()

    def add(self, child: Any, histogram: bool = False) -> BatchedChild:
        batched = BatchedChild(child, self, histogram)
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
