"""This process's trail stream copied into the database by a thread of its own.

The journal line is the record: it is written before the request is answered, and a
request whose line cannot be written is refused. The database copy follows: the
journal hands each event over as its line is written (under the chain lock, so in
chain order), and one thread stores what has gathered meanwhile, one transaction a
batch (`database_copy.store_in_chain_order`). So a request pays for a line and a
hand-over, not a database round trip (issue #12's budget, benchmarks/trail_overhead.py).

Bounded: when the database is down or slow the backlog grows; at `backlog_limit`
events the next request is refused (fail closed) rather than the copy falling behind
without end. A failed batch stays at the head of the queue and is retried, backing off.
What a process could not copy before it died is in its journal: `trail.recovery`
stores it (beat's `trail-recover`, `manage.py recover_trail`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from itertools import islice
from pathlib import Path
from typing import Any

from django.db import connection

from obsportal.telemetry.metrics import TRAIL_COPY_FAILURES
from obsportal.trail.database_copy import (
    ASYNC_COMMIT,
    Diverged,
    store_at_head,
    store_in_chain_order,
)

logger = logging.getLogger(__name__)

BATCH_EVENTS = 500
# Up to this many events go by the prepared compare-and-set (`store_at_head`), in one
# transaction: the locked path's Python would be taken from the requests' interpreter.
QUICK_EVENTS = 32
# After the first event of a batch the thread waits this long for more (unless a reader
# or a change is waiting for the copy): one wake-up and one transaction for the events of
# many requests, where one each would take the interpreter from a request every time.
GATHER_SECONDS = 0.025
RETRY_FIRST, RETRY_MOST = 0.05, 2.0  # seconds between attempts while the database fails


class CopyBehind(Exception):
    """The database copy is too far behind the journal for another event to be taken."""


class TrailCopier:
    """Stores the events of one trail journal in the database, in the background."""

    def __init__(self, agent_id: str, stream: str, journal: Path, backlog_limit: int) -> None:
        self.agent_id = agent_id
        self.stream = stream
        self.journal = journal
        self.backlog_limit = backlog_limit
        self._queue: deque[dict[str, Any]] = deque()
        self._changed = threading.Condition()
        self._offered = -1  # seq of the last event handed over
        self._stored = -1  # seq of the last handed-over event the database holds
        self._problem: str | None = None  # why the last attempt failed, while it lasts
        self.diverged: str | None = None  # the copy can never go on: the stream is left
        self._closing = False
        self._thread: threading.Thread | None = None
        self._at_head = False  # the database's head is known to be the last event stored
        self._idle = False  # the thread waits for a first event (an offer wakes it)
        self._hurry = False  # someone waits for the copy: no gathering

    # -- the request's side (under the journal's chain lock) ----------------------------

    def room(self, event: dict[str, Any]) -> None:
        """Refuse `event` before its line is written when the copy cannot take it."""
        if self.diverged is not None:
            raise Diverged(self.diverged)
        if len(self._queue) >= self.backlog_limit:
            raise CopyBehind(
                f"its database copy is {len(self._queue)} events behind"
                + (f" ({self._problem})" if self._problem else "")
            )

    def offer(self, event: dict[str, Any]) -> None:
        """Take `event`, whose line is written, for the database (never raises)."""
        with self._changed:
            self._queue.append(event)
            self._offered = event["seq"]
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"trail-copy:{self.stream}", daemon=True
                )
                self._thread.start()
            elif self._idle or len(self._queue) >= QUICK_EVENTS:
                self._changed.notify_all()

    # -- anyone's side ------------------------------------------------------------------

    def drain(self, timeout: float) -> int:
        """Wait until the database holds every event handed over so far; returns how many
        it still lacks when `timeout` (seconds) ran out first, 0 when it holds them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            target = self._offered
            if self._stored < target:
                self._hurry = True
                self._changed.notify_all()
            while self._stored < target and self.diverged is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return 0 if self._stored >= target else target - self._stored

    def problem(self) -> str | None:
        return self.diverged or self._problem

    def close(self, timeout: float | None) -> None:
        """Stop taking events; the thread stores what it holds, then ends (waited for up
        to `timeout` seconds; None: not waited for)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and timeout is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the copier's thread ------------------------------------------------------------

    def _run(self) -> None:
        delay = RETRY_FIRST
        try:
            while True:
                with self._changed:
                    batch = self._gathered()
                if not batch:
                    return  # closing, and everything is stored
                try:
                    self._store(batch)
                except Diverged as exc:
                    self._diverge(str(exc))
                    return
                except Exception as exc:  # the database is down, restarting, refusing
                    if self._failed(exc, delay):
                        return
                    delay = min(delay * 2, RETRY_MOST)
                    continue
                delay = RETRY_FIRST
                with self._changed:
                    for _ in batch:
                        self._queue.popleft()
                    self._stored = batch[-1]["seq"]
                    self._problem = None
                    self._changed.notify_all()
        finally:
            connection.close()  # this thread's own connection

    def _gathered(self) -> list[dict[str, Any]]:
        """The next batch (held under `_changed`): the first event, and what follows it
        within GATHER_SECONDS; empty when closing with nothing left."""
        while not self._queue and not self._closing:
            self._idle = True
            self._changed.wait()
        self._idle = False
        deadline = time.monotonic() + GATHER_SECONDS
        while len(self._queue) < QUICK_EVENTS and not (self._closing or self._hurry):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._changed.wait(left)
        self._hurry = False
        return list(islice(self._queue, BATCH_EVENTS))

    def _store(self, batch: list[dict[str, Any]]) -> None:
        quick = self._at_head and len(batch) <= QUICK_EVENTS
        if quick and connection.vendor == "postgresql" and store_at_head(batch, ASYNC_COMMIT):
            return
        self._at_head = False  # the head is elsewhere, or not known yet: the locked path
        store_in_chain_order(
            self.agent_id, self.stream, batch, self.journal, asynchronous_commit=True
        )
        self._at_head = True

    def _failed(self, exc: Exception, delay: float) -> bool:
        """Note a failed attempt and wait before the next; True: give up (closing)."""
        TRAIL_COPY_FAILURES.inc()
        with self._changed:
            self._problem = f"{type(exc).__name__}: {exc}".strip()
            self._changed.notify_all()
            closing = self._closing
        logger.warning(
            "trail stream %s: the database copy failed (%s); %d events wait, retrying",
            self.stream, self._problem, len(self._queue),
        )  # fmt: skip
        connection.close()  # a broken connection is replaced on the next attempt
        if closing:
            return True  # what is left is in the journal: recovery stores it
        time.sleep(delay)
        return False

    def _diverge(self, reason: str) -> None:
        TRAIL_COPY_FAILURES.inc()
        logger.error(
            "trail stream %s: its database copy diverged from the journal (%s); the stream "
            "is left, its journal keeps the events the database lacks",
            self.stream, reason,
        )  # fmt: skip
        with self._changed:
            self.diverged = reason
            self._changed.notify_all()
