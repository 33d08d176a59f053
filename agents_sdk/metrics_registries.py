"""The registries a scrape reads: an agent's own, refreshed first, or every process's files.

Under `PROMETHEUS_MULTIPROC_DIR` (set before prometheus_client is imported), values live
in that directory's files and the exposition aggregates every process's values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.metrics_core import Metric

from agents_sdk import environment as env


def multiprocess_dir() -> str | None:
    return env.text(env.PROMETHEUS_MULTIPROC_DIR)


class RefreshingRegistry(CollectorRegistry):
    """A registry that lets its owner bring derived values up to date before each scrape."""

    def __init__(self) -> None:
        super().__init__(auto_describe=True)
        self.before_collect: Callable[[], None] | None = None

    def collect(self) -> Iterable[Metric]:
        if self.before_collect is not None:
            self.before_collect()
        return super().collect()


class MultiProcessView(CollectorRegistry):
    """The exposition registry in multiprocess mode: every process's files, refreshed first."""

    def __init__(self, path: str, refresh: Callable[[], None]):
        super().__init__()
        prom_multiprocess.MultiProcessCollector(self, path=path)  # type: ignore[no-untyped-call]
        self._refresh = refresh

    def collect(self) -> Iterable[Metric]:
        self._refresh()
        return super().collect()


def global_registry() -> CollectorRegistry:
    """prometheus_client's process-wide registry, for callers who ask for it explicitly."""
    return REGISTRY
