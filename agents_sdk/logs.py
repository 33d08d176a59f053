"""JSON-lines logging through the standard `logging` module, correlated with traces.

A line: `ts` (RFC 3339 UTC), `level`, `logger`, `message`, `agent_id`,
`trace_id`/`span_id` of the active span, the fields bound with `log_context()`,
then the record's `extra` fields. Context lives in a contextvar, so threads and
asyncio tasks each see their own. Formatting happens only in the formatter,
which `logging` never reaches for a record its level filter dropped.

Lines are formatted when logged (so each carries the span active then) and
written in batches: within `flush_interval` seconds, at once for WARNING and
above, and at shutdown or interpreter exit. A write and flush per line cost
more than the rest of the line together, and stall behind the journal's fsync.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import IO, Any

import orjson

from agents_sdk._otel import active_span_context

# Fields bound for the current thread / task; replaced, never mutated, so copies are cheap.
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "agents_sdk_log_context", default=None
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_PLAIN_RECORD_SIZE = len(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every JSON line logged inside the block (this thread / task only)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bound_context() -> dict[str, Any]:
    return dict(_context.get() or {})


class _Timestamps:
    """RFC 3339 UTC with microseconds; the date-time prefix is reused within one second."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1_000_000):06d}Z"


def _json_default(value: Any) -> str:
    return str(value)


class JsonFormatter(logging.Formatter):
    """Formats a LogRecord as one JSON object (no trailing newline; the handler adds it)."""

    def __init__(self, agent_id: str | None = None):
        super().__init__()
        self.agent_id = agent_id
        self._ts = _Timestamps()
        self._ids_cache: tuple[int, int, str, str] = (0, 0, "", "")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._ts.format(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "agent_id": self.agent_id,
        }
        ctx = active_span_context()
        if ctx is not None:
            # Consecutive lines mostly come from the same span: reuse its hex ids.
            # One tuple, swapped whole, so threads sharing the formatter never mix two spans.
            cached = self._ids_cache
            if cached[0] != ctx.trace_id or cached[1] != ctx.span_id:
                cached = self._ids_cache = (
                    ctx.trace_id,
                    ctx.span_id,
                    format(ctx.trace_id, "032x"),
                    format(ctx.span_id, "016x"),
                )
            line["trace_id"], line["span_id"] = cached[2], cached[3]
        else:
            line["trace_id"] = line["span_id"] = None
        bound = _context.get()
        if bound:
            line.update(bound)
        fields = record.__dict__
        if len(fields) > _PLAIN_RECORD_SIZE:  # only a record given `extra=` has more
            for key, value in fields.items():
                if key not in _RECORD_ATTRS:
                    line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


DEFAULT_FLUSH_INTERVAL = 0.1  # seconds a logged line may wait before it is written
_MAX_PENDING = 1024  # lines; past this the logging thread writes them itself


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
        self._wake = threading.Event()
        self._closed = threading.Event()
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
        pending = self._pending
        pending.append(line)
        if (
            record.levelno >= self.flush_level
            or not self.flush_interval
            or len(pending) >= _MAX_PENDING
        ):
            self.flush()
        elif len(pending) == 1:
            self._arm_flusher()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if not self._pending:
                return
            text = "\n".join(self._pending) + "\n"
            self._pending.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except Exception as exc:  # a closed or broken stream must not break the agent
                if logging.raiseExceptions:
                    sys.stderr.write(f"agents_sdk: could not write log lines: {exc!r}\n")

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self.flush()
        super().close()

    def _arm_flusher(self) -> None:
        if self._flusher_pid != os.getpid():
            self._flusher_pid = os.getpid()
            thread = threading.Thread(
                target=_flush_periodically,
                args=(weakref.ref(self), self._wake, self._closed, self.flush_interval),
                name="agents-sdk-log-flush",
                daemon=True,
            )
            thread.start()
        self._wake.set()

    def _forget_parent(self) -> None:
        self.createLock()
        self._pending = []
        self._wake = threading.Event()
        self._closed = threading.Event()
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


def json_logger(
    agent_id: str,
    *,
    name: str | None = None,
    level: int | str = logging.INFO,
    stream: IO[str] | None = None,
    propagate: bool = False,
    flush_interval: float = DEFAULT_FLUSH_INTERVAL,
) -> logging.Logger:
    """The agent's logger, writing JSON lines to `stream` (stderr by default).

    It does not propagate to the root logger by default, so a root handler does not
    print each line a second time in another format. Lines are written within
    `flush_interval` seconds (WARNING and above at once; 0 writes every line at once).
    The default logger skips the caller lookup its lines never show (records then
    have no filename or lineno); a logger given by `name` keeps it.
    """
    logger = logging.getLogger(name or f"agents_sdk.agent.{agent_id}")
    logger.setLevel(level)
    logger.propagate = propagate
    handler = BatchingLineHandler(
        stream if stream is not None else sys.stderr, flush_interval=flush_interval
    )
    handler.setFormatter(JsonFormatter(agent_id))
    handler._agents_sdk = True  # type: ignore[attr-defined]
    # Re-creating an Observability for the same agent replaces our handler, never stacks it.
    for old in [h for h in logger.handlers if getattr(h, "_agents_sdk", False)]:
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    if name is None:  # our own logger; one the application named may serve its handlers too
        _skip_caller_lookup(logger)
    return logger


_NO_CALLER = ("(unknown file)", 0, "(unknown function)", None)


def _skip_caller_lookup(logger: logging.Logger) -> None:
    """Our lines carry no source location: skip walking the stack for one (~1.4 µs a line).

    `stack_info=True` still gets its stack. A record's filename and lineno are then
    placeholders, as under `logging._srcfile = None`.
    """
    if getattr(logger.findCaller, "_agents_sdk", False):
        return
    find_caller = logger.findCaller

    def find_caller_when_asked(
        stack_info: bool = False, stacklevel: int = 1
    ) -> tuple[str, int, str, str | None]:
        if stack_info:
            return find_caller(stack_info, stacklevel + 1)  # + this frame
        return _NO_CALLER

    find_caller_when_asked._agents_sdk = True  # type: ignore[attr-defined]
    logger.findCaller = find_caller_when_asked  # type: ignore[method-assign]


def silent_logger(agent_id: str) -> logging.Logger:
    """Logging off: a logger that is enabled for nothing (not registered globally)."""
    logger = logging.Logger(f"agents_sdk.agent.{agent_id}.off")
    logger.disabled = True
    return logger


def close_json_logger(logger: logging.Logger) -> None:
    for handler in [h for h in logger.handlers if getattr(h, "_agents_sdk", False)]:
        logger.removeHandler(handler)
        handler.close()
