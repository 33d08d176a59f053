"""InMemoryTransport: the test double, shipped with the SDK (as OpenTelemetry ships its
InMemorySpanExporter). It keeps what it is sent and answers as it is told."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from agents_sdk.shipping.transport import Batch, Pending, Transport, Verdict, check_verdict

Answer = Callable[[list[dict[str, Any]]], Verdict | Mapping[str, Any]]


class InMemoryTransport(Transport):
    """Keeps every batch it answered in `batches`; accepts them all unless told otherwise.

    `answer(events)` decides the verdict (it may raise TransportError to play an
    unreachable portal, or return a rejection); `fail_next(*errors)` makes the next
    sends raise those errors, one each. `attempts` counts every send, answered or not.
    """

    def __init__(self, answer: Answer | None = None):
        self.batches: list[list[dict[str, Any]]] = []
        # The agent-signed head each batch offered through `submit` (None: unsigned).
        self.heads: list[dict[str, Any] | None] = []
        self.attempts = 0
        self.closed = False
        self._answer = answer
        self._failures: deque[Exception] = deque()
        self._lock = threading.Lock()

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event of every answered batch, in the order they arrived."""
        return [event for batch in self.batches for event in batch]

    def fail_next(self, *errors: Exception) -> None:
        self._failures.extend(errors)

    def send(self, events: list[dict[str, Any]]) -> Verdict:
        with self._lock:
            self.attempts += 1
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            raise failure
        if self._answer is None:
            verdict = Verdict.accepted_all(len(events))
        else:
            verdict = check_verdict(self._answer(events))
        with self._lock:
            self.batches.append(events)
        return verdict

    def submit(self, batch: Batch) -> Pending:
        with self._lock:
            self.heads.append(batch.head)
        return super().submit(batch)

    def close(self) -> None:
        self.closed = True
