"""How the journal's lines reach the disk: group commit, the durable position, rotation.

`GroupCommit` is the file half of `JournalWriter`: the writer builds each line under
its chain lock and appends it to `_pending`; this writes the pending bytes in one
`write` + `fsync` for everyone (within `BATCH_FLUSH_INTERVAL` of the first, or at once for
fsync="always"), publishes how far the journal is durable, and rotates files.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from agents_sdk.audit.opening import JournalClosed
from agents_sdk.audit.segments import JournalPosition, fsync_directory, segment_path

# Group-commit window for fsync="batch": the longest an event waits to be durable.
BATCH_FLUSH_INTERVAL = 0.002
# How often an idle writer's thread wakes (time-based rotation).
IDLE_WAKE_INTERVAL = 1.0
# A flush is started early once this much is pending.
MAX_PENDING_BYTES = 1 << 20
# Backpressure: past this much not yet written (a disk stalled for many fsyncs),
# a record call waits for the disk instead of letting memory grow without bound.
PENDING_LIMIT = 16 << 20


class DurableOffset(int):
    """A byte offset in the active file that also names the file (`base`: its first seq)."""

    base: int

    def __new__(cls, offset: int, base: int) -> DurableOffset:
        value = super().__new__(cls, offset)
        value.base = base
        return value


class GroupCommit:
    """The durability machinery; JournalWriter sets every attribute below in its __init__."""

    path: Path
    fsync_mode: str
    rotate_bytes: int | None
    rotate_seconds: float | None
    _fd: int
    _seq: int
    _lock: threading.Lock
    _io_lock: threading.Lock
    _closed: bool
    _failure: BaseException | None
    _file_base: int
    _file_bytes: int
    _file_started: float
    _written_seq: int
    _durable_seq: int
    _durable_position: JournalPosition
    _durable: threading.Condition
    _committing: bool
    _idle: bool  # the flush thread waits for an append to wake it
    _pending: bytearray
    _wake: threading.Event
    _listeners: list[threading.Event]

    @property
    def durable_seq(self) -> int:
        """Seq of the last event known to be on disk (fsynced, unless fsync='never')."""
        return self._durable_seq

    @property
    def durable_offset(self) -> int:
        """Bytes of the active file known to be complete (and fsynced, unless fsync='never').

        The int also carries `.base`, the first seq of the file it counts in, so a
        reader given only this number still knows which file it bounds across a rotation.
        """
        position = self._durable_position
        return DurableOffset(position.offset, position.base)

    @property
    def durable_position(self) -> JournalPosition:
        """(first seq of the file, byte offset) up to which the journal is durable."""
        return self._durable_position

    def _commit_until(self, seq: int) -> None:
        """fsync="always": make `seq` durable; one caller writes for all who wait (group commit)."""
        with self._durable:
            while self._durable_seq < seq:
                if self._failure is not None:
                    raise JournalClosed(f"journal {self.path} failed to write: {self._failure}")
                if self._committing:
                    self._durable.wait()
                    continue
                self._committing = True
                break
            else:
                return
        try:
            self._flush_pending()
        finally:
            with self._durable:
                self._committing = False
                self._durable.notify_all()
        if self._durable_seq < seq:  # the write failed
            raise JournalClosed(f"journal {self.path} failed to write: {self._failure}")

    def _wait_for_disk(self, seq: int) -> None:
        self._wake.set()
        with self._durable:
            while self._durable_seq < seq and self._failure is None and not self._closed:
                self._durable.wait(0.1)

    def _flush_loop(self) -> None:
        # fsync="batch"/"never": busy (the last flush wrote), the thread sleeps one
        # group-commit window between flushes, one GIL acquisition a window; idle, it
        # waits for the append that finds nothing pending (`_idle` tells it to wake the
        # thread), so an idle writer does not take the GIL from the agent's thread every
        # few milliseconds. fsync="write": woken by each append. Either way once a second
        # for time-based rotation.
        grouped = self.fsync_mode != "write"
        busy = False
        while True:
            if grouped and busy:
                time.sleep(BATCH_FLUSH_INTERVAL)
            else:
                self._idle = True
                if not (grouped and self._pending):  # appended before `_idle` was seen
                    self._wake.wait(IDLE_WAKE_INTERVAL)
                self._idle = False
                self._wake.clear()
                if grouped and not self._closed:
                    time.sleep(BATCH_FLUSH_INTERVAL)  # the rest of the group joins
            closed = self._closed
            busy = self._flush_pending()
            if closed:
                return

    def _flush_pending(self) -> bool:
        """Write (and fsync) what is pending; True when there was something."""
        with self._io_lock:
            with self._lock:
                data, self._pending = self._pending, bytearray()
                last_seq = self._seq
                # fsync="write": the lines are in the file already, only the fsync is ours.
                unsynced = self.fsync_mode == "write" and self._written_seq > self._durable_seq
                written = JournalPosition(self._file_base, self._file_bytes)
            if unsynced:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    self._failure = exc
                    with self._durable:
                        self._durable.notify_all()
                    return False
                self._publish_durable(last_seq, written)
            if data:
                try:
                    write_all(self._fd, data)
                    if self.fsync_mode != "never":
                        os.fsync(self._fd)
                except OSError as exc:
                    # The chain in memory ran ahead of the file: refuse further events
                    # rather than write ones that link to a hash that is not on disk.
                    self._failure = exc
                    with self._durable:
                        self._durable.notify_all()
                    return False
                self._file_bytes += len(data)
                self._written_seq = last_seq
            if self._due_for_rotation():
                self._rotate()
            elif not data:
                return False
            self._publish_durable(last_seq, JournalPosition(self._file_base, self._file_bytes))
            return bool(data)

    def _due_for_rotation(self) -> bool:
        if self._file_bytes == 0:
            return False
        if self.rotate_bytes is not None and self._file_bytes >= self.rotate_bytes:
            return True
        return (
            self.rotate_seconds is not None
            and time.monotonic() - self._file_started >= self.rotate_seconds
        )

    def _rotate(self) -> None:
        """Close the active file as a segment and start a new one (caller holds _io_lock)."""
        # fsync="write" appends write the file themselves, under the chain lock.
        writers = self._lock if self.fsync_mode == "write" else contextlib.nullcontext()
        with writers:
            os.fsync(self._fd)
            os.close(self._fd)
            os.rename(self.path, segment_path(self.path, self._file_base))
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            fsync_directory(self.path.parent)
            self._file_base = self._written_seq + 1
            self._file_bytes = 0
            self._file_started = time.monotonic()

    def _publish_durable(self, seq: int, position: JournalPosition) -> None:
        with self._durable:
            self._durable_seq = seq
            self._durable_position = position
            self._durable.notify_all()
        for listener in self._listeners:
            listener.set()

    def add_listener(self, event: threading.Event) -> None:
        """Set `event` whenever new events become durable (the shipper waits on it)."""
        self._listeners.append(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event recorded so far is durable; False on timeout."""
        target = self._seq
        if self.fsync_mode == "always":
            return self._durable_seq >= target
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._durable:
            while self._durable_seq < target:
                if self._failure is not None:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._durable.wait(min(remaining, 0.1) if remaining is not None else 0.1)
        return True

    def rotate(self) -> None:
        """Start a new file now (after making everything recorded durable)."""
        self.flush()
        with self._io_lock:
            if self._file_bytes:
                self._rotate()
                self._publish_durable(
                    self._written_seq, JournalPosition(self._file_base, self._file_bytes)
                )


def write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
