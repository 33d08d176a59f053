"""JSON-lines logging through the standard `logging` module, correlated with traces.

A line: `ts` (RFC 3339 UTC), `level`, `logger`, `message`, `agent_id`,
`trace_id`/`span_id` of the active span, the fields bound with `log_context()`,
then the record's `extra` fields. Context lives in a contextvar, so threads and
asyncio tasks each see their own. Formatting happens only in the formatter,
which `logging` never reaches for a record its level filter dropped.

Lines are formatted when logged (so each carries the span active then) and
written in batches (`agents_sdk.log_handler`); the SDK's own logger takes a
shorter path through `logging` (`agents_sdk.log_records`).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from typing import IO, Any

import orjson

from agents_sdk._otel import current_span, span_hex_ids
from agents_sdk.log_handler import DEFAULT_FLUSH_INTERVAL as DEFAULT_FLUSH_INTERVAL
from agents_sdk.log_handler import BatchingLineHandler as BatchingLineHandler
from agents_sdk.log_records import make_cheap

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
        return self.format_ns(int(created * 1e9))

    def format_ns(self, now_ns: int) -> str:
        second, micro = divmod(now_ns // 1000, 1_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self._second = second
        return f"{self._prefix}{micro:06d}Z"


def _json_default(value: Any) -> str:
    return str(value)


_dumps = orjson.dumps
_SCALARS = frozenset((int, str, float, bool))  # never a Mapping: skip the ABC check
_OPTIONS = orjson.OPT_NON_STR_KEYS


class JsonFormatter(logging.Formatter):
    """Formats a LogRecord as one JSON object (no trailing newline; the handler adds it)."""

    def __init__(self, agent_id: str | None = None):
        super().__init__()
        self.agent_id = agent_id
        self._ts = _Timestamps()

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        extra = fields.get("_agents_sdk_extra")
        if extra is None and len(fields) > _PLAIN_RECORD_SIZE:  # only `extra=` adds fields
            extra = {key: value for key, value in fields.items() if key not in _RECORD_ATTRS}
        line = self._line(
            self._ts.format(record.created), record.levelname, record.name,
            record.getMessage(), extra,
        )  # fmt: skip
        if record.exc_info or record.stack_info:
            if record.exc_info:
                line["exception"] = self.formatException(record.exc_info)
            if record.stack_info:
                line["stack"] = record.stack_info
        return _dumps(line, default=_json_default, option=_OPTIONS).decode()

    def format_call(
        self,
        now_ns: int,
        levelname: str,
        name: str,
        msg: object,
        args: Any,
        extra: Mapping[str, object] | None,
    ) -> str:
        """The line `format` would give the record of this logging call (no exception or
        stack), without building the record: the agent's own logger's path."""
        message = msg if type(msg) is str else str(msg)
        if args:
            if (
                len(args) == 1
                and type(args[0]) not in _SCALARS
                and isinstance(args[0], Mapping)
                and args[0]
            ):
                args = args[0]  # as LogRecord: logger.info("%(a)s", {"a": 1})
            message = message % args
        line = self._line(self._ts.format_ns(now_ns), levelname, name, message, extra)
        return _dumps(line, default=_json_default, option=_OPTIONS).decode()

    def _line(
        self,
        ts: str,
        levelname: str,
        name: str,
        message: str,
        extra: Mapping[str, object] | None,
    ) -> dict[str, Any]:
        trace_id, span_id = span_hex_ids(current_span())
        line: dict[str, Any] = {
            "ts": ts,
            "level": levelname,
            "logger": name,
            "message": message,
            "agent_id": self.agent_id,
            "trace_id": trace_id,
            "span_id": span_id,
        }
        bound = _context.get()
        if bound:
            line.update(bound)
        if extra:
            line.update(extra)
        return line


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
        make_cheap(logger, handler)
    return logger


def silent_logger(agent_id: str) -> logging.Logger:
    """Logging off: a logger that is enabled for nothing (not registered globally)."""
    logger = logging.Logger(f"agents_sdk.agent.{agent_id}.off")
    logger.disabled = True
    return logger


def close_json_logger(logger: logging.Logger) -> bool:
    """Write what is pending and close our handlers; False if a line could not be written."""
    written = True
    for handler in [h for h in logger.handlers if getattr(h, "_agents_sdk", False)]:
        logger.removeHandler(handler)
        handler.close()
        written = written and not getattr(handler, "write_failures", 0)
    return written
