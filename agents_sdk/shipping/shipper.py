"""The background shipper: reads the journal from its cursor and ships acknowledged batches.

The journal is the outbox. The cursor moves only after the portal answers for a
batch, so a crash, a dead broker or a dead database means a resend, and the
portal's idempotent admission turns a resend into a no-op.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from agents_sdk.audit.journal import read_lines
from agents_sdk.shipping.cursor import Cursor, load_cursor, save_cursor
from agents_sdk.shipping.transports import BatchRejected, Transport, TransportError

log = logging.getLogger("agents_sdk.shipping")


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 10.0) -> float:
    return min(cap, base * (2 ** min(attempt, 16)))


class Shipper:
    """Ships one journal through one transport, in a background thread."""

    def __init__(
        self,
        journal_path: str | Path,
        transport: Transport,
        *,
        batch_size: int = 500,
        max_wait: float = 0.2,
        durable_offset: Any = None,
    ):
        self.journal_path = Path(journal_path)
        self.transport = transport
        self.batch_size = batch_size
        self.max_wait = max_wait
        # A callable giving how far the file may be read (the writer's durable offset);
        # without one, every complete line on disk is shippable.
        self._durable_offset = durable_offset
        self.cursor = load_cursor(self.journal_path)
        self.wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.shipped_events = 0

    # -- one step, usable without the thread (the CLI's `ship`) --------------

    def read_batch(self) -> tuple[list[dict[str, Any]], int, int]:
        """The next batch after the cursor: (events, offset after it, last seq)."""
        if not self.journal_path.exists():
            return [], self.cursor.offset, self.cursor.seq
        limit = self._durable_offset() if self._durable_offset else None
        events: list[dict[str, Any]] = []
        offset, seq = self.cursor.offset, self.cursor.seq
        for end, line in read_lines(self.journal_path, self.cursor.offset, limit):
            event = orjson.loads(line)
            events.append(event)
            offset, seq = end, event["seq"]
            if len(events) >= self.batch_size:
                break
        return events, offset, seq

    def ship_once(self) -> int:
        """Send the next batch; return how many events the portal acknowledged."""
        events, offset, seq = self.read_batch()
        if not events:
            return 0
        self.transport.send(events)
        self.cursor = Cursor(offset=offset, seq=seq)
        save_cursor(self.journal_path, self.cursor)
        self.shipped_events += len(events)
        self.last_error = None
        return len(events)

    def drain(self, deadline: float | None = None) -> bool:
        """Ship until nothing is left (True) or the deadline passes or a send fails (False)."""
        while deadline is None or time.monotonic() < deadline:
            try:
                if self.ship_once() == 0:
                    return True
            except (TransportError, BatchRejected) as exc:
                self.last_error = str(exc)
                return False
        return False

    # -- the background loop ----------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="agents-sdk-shipper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                shipped = self.ship_once()
            except TransportError as exc:
                self.last_error = str(exc)
                log.warning("shipping failed, will retry: %s", exc)
                self._stop.wait(backoff_delay(attempt))
                attempt += 1
                continue
            except BatchRejected as exc:
                # A batch the portal will never take stays unshipped and visible;
                # retrying slowly lets an operator fix the cause without a restart.
                self.last_error = str(exc)
                log.error("%s", exc)
                self._stop.wait(backoff_delay(attempt, cap=60.0))
                attempt += 1
                continue
            attempt = 0
            if shipped < self.batch_size:
                self.wakeup.wait(self.max_wait)
                self.wakeup.clear()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the loop, shipping what it can within `timeout`; True if nothing is left."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        # A loop still stuck in a send owns the cursor; leave it to finish on its own.
        busy = self._thread is not None and self._thread.is_alive()
        drained = False if busy else self.drain(deadline)
        if not busy:
            self.transport.close()
        return drained
