"""What the agent's process itself costs: its resident memory and its garbage-collection pauses."""

from __future__ import annotations

import gc
import os
import time
import weakref
from collections.abc import Sequence
from typing import Any

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_memory_bytes() -> int | None:
    """This process's resident set size (Linux /proc; None elsewhere)."""
    # Not ProcessCollector: its process_* families carry no agent_id label, show only the
    # scraping process under multiprocess, and read stat, limits and fd/ on every call.
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


# Every live AgentMetrics of the process observes each collection's pause (one callback):
# its histogram children, by generation.
_GC_TIMED: weakref.WeakKeyDictionary[object, Sequence[Any]] = weakref.WeakKeyDictionary()
_gc_started: list[float] = []


def time_gc_pauses(owner: object, by_generation: Sequence[Any]) -> None:
    """Observe each collection's pause into `by_generation[generation]` while `owner` lives."""
    _GC_TIMED[owner] = by_generation


def _time_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        if _GC_TIMED:
            _gc_started[:] = [time.perf_counter()]
        return
    if not _gc_started:
        return
    pause = time.perf_counter() - _gc_started.pop()
    generation = info.get("generation", 0)
    for children in list(_GC_TIMED.values()):
        if 0 <= generation < len(children):
            children[generation].observe(pause)


gc.callbacks.append(_time_gc)
