"""Event identifiers and timestamps, cheap enough for the record hot path."""

from __future__ import annotations

import os
import threading
import time

# Random hex digits are drawn from the OS in blocks: one getrandom() per event
# cost more than the rest of a record call. A forked child drops its parent's
# block so the two never hand out the same identifiers.
_RANDOM_HEX_BLOCK = 19 * 4096
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class Uuid7Source:
    """Time-ordered UUIDs (RFC 9562 version 7): 48-bit ms time, 74 random bits.

    Not thread-safe on its own: the journal calls it under its append lock;
    `uuid7()` below wraps a shared instance in a lock.
    """

    __slots__ = ("_hex", "_at", "_generation", "_ms", "_prefix")

    def __init__(self) -> None:
        self._hex = ""
        self._at = _RANDOM_HEX_BLOCK
        self._generation = _fork_generation
        self._ms = -1
        self._prefix = ""

    def next(self) -> str:
        at = self._at
        if at >= _RANDOM_HEX_BLOCK or self._generation != _fork_generation:
            self._hex = os.urandom(_RANDOM_HEX_BLOCK // 2 + 1).hex()
            self._generation = _fork_generation
            at = 0
        self._at = at + 19
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            t = f"{ms & 0xFFFFFFFFFFFF:012x}"
            self._prefix = f"{t[:8]}-{t[8:]}-7"
            self._ms = ms
        r = self._hex[at : at + 19]
        return f"{self._prefix}{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:]}"


_shared_source = Uuid7Source()
_shared_lock = threading.Lock()


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 version 7) as a string."""
    with _shared_lock:
        return _shared_source.next()


class UtcTimestamps:
    """RFC 3339 UTC timestamps with microseconds and a `Z`; caches the per-second prefix."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self._second = second
        return f"{self._prefix}{micro:06d}Z"
