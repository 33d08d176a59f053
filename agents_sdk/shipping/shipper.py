"""The background shipper: reads the journal from its cursor and ships acknowledged batches.

The journal is the outbox. Up to `max_in_flight` batches travel at once, but
their answers are taken in journal order and the cursor moves only over a
contiguous run of acknowledged batches; a failure drops everything after the
cursor and starts again from it after a backoff. A crash, a dead broker or a
dead database therefore means a resend, and the portal's idempotent admission
turns a resend into a no-op.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from agents_sdk.audit.head_signing import HeadSigner, load_key
from agents_sdk.audit.segments import JournalPosition, iter_journal_lines, journal_files, last_line
from agents_sdk.shipping.cursor import Cursor, load_cursor, save_cursor
from agents_sdk.shipping.transport import (
    Batch,
    BatchRejected,
    Pending,
    Transport,
    TransportError,
    as_transport,
)

log = logging.getLogger("agents_sdk.shipping")


# After a refusal the same batch is offered again only this often (or on resume()).
REFUSED_RETRY_INTERVAL = 3600.0


@dataclass(frozen=True)
class Refusal:
    """A batch the portal refused: its stable reason code and sentence, and which events."""

    code: str
    reason: str
    first_seq: int
    last_seq: int
    at: float  # time.time()


# The longest a portal's Retry-After is honoured: past it the shipper tries again anyway
# (a misconfigured proxy must not stop shipping for hours).
MAX_RETRY_AFTER = 300.0


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 10.0) -> float:
    return min(cap, base * float(2 ** min(attempt, 16)))


def retry_delay(
    exc: TransportError, attempt: int, cap: float = 10.0, max_retry_after: float = MAX_RETRY_AFTER
) -> float:
    """How long to wait before sending again after `exc`.

    The exponential backoff, or the portal's Retry-After when it asked for longer: bounded
    by `max_retry_after`, plus up to 10% of jitter so that agents throttled together do
    not all come back in the same second.
    """
    delay = backoff_delay(attempt, cap=cap)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None and retry_after > 0:
        asked = min(float(retry_after), max_retry_after)
        delay = max(delay, asked + random.uniform(0.0, 0.1 * asked))
    return delay


class Shipper:
    """Ships one journal through one transport, in a background thread.

    `journal` (a JournalWriter) bounds reading to what is durable, so an event
    that a crash could still lose is never shipped; `durable_offset` (a callable
    giving the durable byte offset of the active file) is the older form of the
    same bound. Without either, every complete line on disk is shippable (the
    CLI's `ship` of a closed journal).
    """

    def __init__(
        self,
        journal_path: str | Path,
        transport: Transport,
        *,
        batch_size: int = 500,
        max_wait: float = 0.2,
        # Two in flight keep a portal's worker pair busy; more arrive out of order and are
        # parked until the gap fills (measured: 24,785 events/s at 2, 17,586 at 4).
        max_in_flight: int = 2,
        max_backoff: float = 10.0,
        durable_offset: Callable[[], int] | None = None,
        journal: Any = None,
        result_timeout: float = 60.0,
        refused_retry_interval: float | None = REFUSED_RETRY_INTERVAL,
        on_refusal: Callable[[str], None] | None = None,
        signer: HeadSigner | None = None,
    ):
        if batch_size < 1 or max_in_flight < 1:
            raise ValueError("batch_size and max_in_flight must be at least 1")
        self.journal_path = Path(journal_path)
        self.transport = as_transport(transport)
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.max_in_flight = max_in_flight
        self.max_backoff = max_backoff
        self.result_timeout = result_timeout
        self._journal = journal
        self._durable_offset = durable_offset
        # The agent key that signs each batch's head: the writer's, else `<journal>.key`.
        # A journal without one (it predates agent-signed heads) ships unsigned batches,
        # which a portal takes only from a credential that has no key pinned yet.
        if signer is None and journal is not None:
            signer = getattr(journal, "head_signer", None)
        self.signer = signer if signer is not None else load_key(self.journal_path)
        self.cursor = load_cursor(self.journal_path)
        self.wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = threading.Lock()  # one pump at a time: the thread or drain()
        self.last_error: str | None = None
        self.last_error_at: float | None = None  # time.time() of the last failure
        self.refusal: Refusal | None = None  # the last batch the portal refused
        self.refusals = 0
        self.refused_retry_interval = refused_retry_interval
        self.on_refusal = on_refusal
        self._held = threading.Event()
        self._resumed = threading.Event()
        self.shipped_events = 0
        self.failures = 0
        self.retry_at: float | None = None  # time.time() of the next attempt after a failure

    # -- reading -------------------------------------------------------------

    def _durable_limit(self) -> JournalPosition | None:
        if self._journal is not None:
            position: JournalPosition = self._journal.durable_position
            return position
        if self._durable_offset is not None:
            offset = self._durable_offset()
            base = getattr(offset, "base", None)  # JournalWriter.durable_offset carries it
            if base is None:
                files = journal_files(self.journal_path)
                base = files[-1].base if files else 0
            return JournalPosition(base, int(offset))
        return None

    def read_batch(self, start: JournalPosition | None = None) -> Batch | None:
        """The next batch after `start` (default: the cursor); None when nothing is shippable."""
        start = start or self.cursor.position
        limit = self._durable_limit()
        lines: list[bytes] = []
        end = start
        for file, offset, line in iter_journal_lines(self.journal_path, start):
            if limit is not None and (
                file.base > limit.base or (file.base == limit.base and offset > limit.offset)
            ):
                break
            lines.append(line)
            end = JournalPosition(file.base, offset)
            if len(lines) >= self.batch_size:
                break
        if not lines:
            return None
        last = orjson.loads(lines[-1])
        head = None
        if self.signer is not None:
            # One signature per batch, over its last event: it vouches for the whole chain
            # up to there (every event links to the one before).
            head = self.signer.sign(
                last["agent_id"], last["stream"], last["seq"], last["hash"]
            ).as_wire()
        return Batch(lines, end, _seq_of(lines[0]), int(last["seq"]), head=head)

    def pending_events(self) -> int:
        """Events recorded but not yet acknowledged by the portal."""
        if self._journal is not None:
            last: int = self._journal.last_seq
        else:
            last = -1
            files = journal_files(self.journal_path)
            for file in reversed(files):
                line = last_line(file.path)
                if line is not None:
                    last = _seq_of(line)
                    break
        return max(0, last - self.cursor.seq)

    # -- shipping --------------------------------------------------------------

    def ship_once(self) -> int:
        """Send the next batch and wait for its answer; return how many events were acknowledged."""
        with self._state:
            batch = self.read_batch()
            if batch is None:
                return 0
            try:
                self.transport.submit(batch).result(self.result_timeout)
            except BatchRejected as exc:
                self._refused(batch, exc)
                raise
            except TransportError as exc:
                self._failed(str(exc))
                raise
            self._acknowledge(batch)
            return len(batch)

    def _acknowledge(self, batch: Batch) -> None:
        self.cursor = Cursor(base=batch.end.base, offset=batch.end.offset, seq=batch.last_seq)
        save_cursor(self.journal_path, self.cursor)
        self.shipped_events += len(batch)
        self.last_error = None

    def _pump(self, *, until_empty: bool, deadline: float | None) -> bool:
        """Ship with a window of batches in flight.

        Returns True when everything shippable is acknowledged (`until_empty`),
        False on a failure, on the deadline, or when asked to stop.
        """
        in_flight: deque[tuple[Batch, Pending]] = deque()
        position = self.cursor.position
        lingered = False
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not until_empty and self._stop.is_set():
                return False
            while len(in_flight) < self.max_in_flight:
                batch = self.read_batch(position)
                if batch is None:
                    break
                if len(batch) < self.batch_size and not until_empty:
                    # Batching by time: a short batch waits up to max_wait for company,
                    # unless batches are already travelling (their answers come first).
                    if in_flight:
                        break
                    if not lingered:
                        lingered = True
                        self.wakeup.clear()
                        self._stop.wait(self.max_wait)
                        continue
                in_flight.append((batch, self.transport.submit(batch)))
                position = batch.end
                lingered = False
            if not in_flight:
                if until_empty:
                    return True
                self.wakeup.wait(self.max_wait)
                self.wakeup.clear()
                continue
            batch, pending = in_flight[0]
            remaining = self.result_timeout
            if deadline is not None:
                remaining = max(0.05, min(remaining, deadline - time.monotonic()))
            try:
                pending.result(remaining)
            except BatchRejected as exc:
                self._refused(batch, exc)
                raise
            except TransportError as exc:
                # Everything after the cursor is sent again later, in order.
                self._failed(str(exc))
                raise
            in_flight.popleft()
            with self._state:
                self._acknowledge(batch)

    def drain(self, deadline: float | None = None) -> bool:
        """Ship until nothing is left (True) or the deadline passes or a send fails (False).

        A journal held after a refusal is not sent again (False) until `resume()`.
        """
        if self.refusal is not None and self._held.is_set():
            return False
        try:
            return self._pump(until_empty=True, deadline=deadline)
        except (TransportError, BatchRejected):
            return False

    # -- the background loop ----------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="agents-sdk-shipper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._pump(until_empty=False, deadline=None)
                attempt = 0
            except TransportError as exc:
                delay = retry_delay(exc, attempt, cap=self.max_backoff)
                self.retry_at = time.time() + delay
                log.warning("shipping failed, will retry in %.1f s: %s", delay, exc)
                self._stop.wait(delay)
                self.retry_at = None
                attempt += 1
            except BatchRejected:
                # The portal will not take this batch as it is: sending it again at once
                # would only be refused again. Hold until resume(), a restart, or the
                # retry interval (the operator may have fixed the cause on the portal).
                self._wait_while_held()
                attempt = 0
            except Exception as exc:  # noqa: BLE001 - the loop must outlive surprises
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("shipper loop error")
                self._stop.wait(backoff_delay(attempt, cap=self.max_backoff))
                attempt += 1

    # -- failures and refusals ---------------------------------------------------

    def _failed(self, error: str) -> None:
        self.last_error = error
        self.last_error_at = time.time()
        self.failures += 1

    def _refused(self, batch: Batch, exc: BatchRejected) -> None:
        refusal = Refusal(
            code=exc.code or "unknown",
            reason=exc.reason,
            first_seq=batch.first_seq,
            last_seq=batch.last_seq,
            at=time.time(),
        )
        self._failed(str(exc))
        self.refusal = refusal
        self.refusals += 1
        self._held.set()
        log.warning(
            "the portal refused audit events seq %d-%d of %s: %s (%s); shipping is held "
            "until shipping is resumed, the process restarts, or %s",
            refusal.first_seq, refusal.last_seq, self.journal_path, refusal.code,
            refusal.reason,
            f"{self.refused_retry_interval:.0f} s pass" if self.refused_retry_interval else "ever",
        )  # fmt: skip
        if self.on_refusal is not None:
            self.on_refusal(refusal.code)

    def _wait_while_held(self) -> None:
        interval = self.refused_retry_interval
        until = None if interval is None else time.monotonic() + interval
        while self._held.is_set() and not self._stop.is_set():
            wait = 1.0 if until is None else min(1.0, until - time.monotonic())
            if wait <= 0:
                self._held.clear()  # the retry interval passed: offer the batch once more
                break
            self._resumed.wait(wait)
        self._resumed.clear()  # stopping leaves it held: shutdown does not resend it either

    def resume(self) -> None:
        """Send the held batch again now (after the cause of a refusal was fixed)."""
        self._held.clear()
        self._resumed.set()
        self.wakeup.set()

    @property
    def held(self) -> bool:
        """Whether shipping waits after a refusal instead of sending the same batch again."""
        return self._held.is_set()

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


def _seq_of(line: bytes) -> int:
    # `"seq":N,"span_id"` is top-level only (a nested "seq" key would be followed
    # by another key order), but a parse is exact and rare here: once per batch end.
    return int(orjson.loads(line)["seq"])
