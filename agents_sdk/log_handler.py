"""Writing formatted log lines in batches, from a background thread.

A write and flush per line cost more than the rest of the line together, and stall
behind the journal's fsync: lines are written within `flush_interval` seconds, at
once for WARNING and above, and at shutdown or interpreter exit.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from typing import IO

DEFAULT_FLUSH_INTERVAL = 0.1  # seconds a logged line may wait before it is written
_MAX_PENDING = 1024  # lines; past this the logging thread writes them itself
# Lines joined into one string per write: past ~64 KiB a join costs more per line (its
# memory is fresh pages each time), and the GIL is held for the whole join. 1,024 lines
# in chunks of 256 take 100 µs here, in one piece 250 µs.
_WRITE_CHUNK = 256


class BatchingLineHandler(logging.Handler):
    """Writes formatted lines to a stream in batches, from a background thread.

    `flush_interval=0` writes and flushes every line, as `logging.StreamHandler` does.
    A record at `flush_level` or above is written at once, after the lines before it.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        flush_level: int = logging.WARNING,
    ):
        super().__init__()
        if flush_interval < 0:
            raise ValueError("flush_interval must be >= 0 seconds")
        self.stream = stream
        self.flush_interval = flush_interval
        self.flush_level = flush_level
        self._pending: list[str] = []
        self.write_failures = 0  # flushes whose lines could not be written
        self._wake = threading.Event()
        # Not `_closed`: logging.Handler keeps a flag of its own under that name.
        self._stopping = threading.Event()
        self._flusher_pid = 0  # the process whose flusher thread runs; 0 before the first
        ref = weakref.ref(self)
        # A forked child has no flusher thread, and the lines pending in the parent are
        # the parent's to write: it starts empty and starts its own thread when it logs.
        os.register_at_fork(after_in_child=lambda: _forget_parent_of(ref()))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add_line(line, record.levelno)

    def add_line(self, line: str, levelno: int) -> None:
        """Queue one formatted line (of a record at `levelno`) for writing."""
        pending = self._pending
        pending.append(line)
        if levelno >= self.flush_level or not self.flush_interval or len(pending) >= _MAX_PENDING:
            self.flush()
        elif len(pending) == 1:
            self._arm_flusher()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if not self._pending:
                return
            # A copy and a delete, each one step under the GIL: a line another thread
            # appends meanwhile stays pending, never lost.
            lines = self._pending[:]
            del self._pending[: len(lines)]
            try:
                for start in range(0, len(lines), _WRITE_CHUNK):
                    self.stream.write("\n".join(lines[start : start + _WRITE_CHUNK]) + "\n")
                self.stream.flush()
            except Exception as exc:  # a closed or broken stream must not break the agent
                self.write_failures += 1
                if logging.raiseExceptions:
                    sys.stderr.write(f"agents_sdk: could not write log lines: {exc!r}\n")

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.flush()
        super().close()

    def _arm_flusher(self) -> None:
        if self._flusher_pid != os.getpid():
            with self.lock:  # type: ignore[union-attr]  # emit may run in several threads
                if self._flusher_pid != os.getpid():
                    self._flusher_pid = os.getpid()
                    thread = threading.Thread(
                        target=_flush_periodically,
                        args=(weakref.ref(self), self._wake, self._stopping, self.flush_interval),
                        name="agents-sdk-log-flush",
                        daemon=True,
                    )
                    thread.start()
        self._wake.set()

    def _forget_parent(self) -> None:
        self.createLock()
        self._pending = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flusher_pid = 0


def _forget_parent_of(handler: BatchingLineHandler | None) -> None:
    if handler is not None:
        handler._forget_parent()


def _flush_periodically(
    ref: weakref.ref[BatchingLineHandler],
    wake: threading.Event,
    closed: threading.Event,
    interval: float,
) -> None:
    # Holds the handler weakly, so a handler nobody uses any more can be collected;
    # close() ends the wait at once (it writes what is pending itself).
    while not closed.is_set():
        wake.wait()
        closed.wait(interval)
        wake.clear()
        handler = ref()
        if handler is None:
            return
        handler.flush()
        del handler
