"""The agent's own logger, made cheap: no caller lookup, records built directly, and
lines handed straight to its one handler.

Applied only to the logger the SDK names itself (`agents_sdk.agent.<id>`); a logger
the application names keeps the standard path, since it may serve other handlers.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

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


_RECORD_FIELDS = tuple(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_START_NS = int(logging._startTime * 1e9)  # type: ignore[attr-defined]


class _Record(logging.LogRecord):
    """A LogRecord filled in directly (see `_make_records_directly`)."""

    def __init__(self) -> None:  # the fields are set by the maker
        pass


def _make_records_directly(logger: logging.Logger) -> None:
    """Build our logger's records without LogRecord.__init__ (~2.5 µs a line here).

    The record has every field a LogRecord has (the source location is a placeholder,
    as `_skip_caller_lookup` leaves it), so any handler the application adds still
    formats it; `_agents_sdk_extra` names the `extra=` fields for our formatter.
    """
    if getattr(logger.makeRecord, "_agents_sdk", False):
        return
    level_names = logging._levelToName
    time_ns, get_ident, current_thread = time.time_ns, threading.get_ident, threading.current_thread
    pid = [os.getpid()]
    os.register_at_fork(after_in_child=lambda: pid.__setitem__(0, os.getpid()))

    def make_record(
        name: str,
        level: int,
        fn: str,
        lno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        extra: Mapping[str, object] | None = None,
        sinfo: str | None = None,
    ) -> logging.LogRecord:
        if args and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            args = args[0]  # as LogRecord: logger.info("%(a)s", {"a": 1})
        now = time_ns()
        record = _Record()
        fields = record.__dict__
        fields.update(
            name=name, msg=msg, args=args, levelname=level_names.get(level, f"Level {level}"),
            levelno=level, pathname=fn, filename=fn, module="(unknown module)",
            exc_info=exc_info, exc_text=None, stack_info=sinfo, lineno=lno, funcName=func,
            created=now / 1e9, msecs=(now % 1_000_000_000) // 1_000_000 + 0.0,
            relativeCreated=(now - _START_NS) / 1e6, thread=get_ident(),
            threadName=current_thread().name, processName="MainProcess", process=pid[0],
        )  # fmt: skip
        if extra:
            for key in extra:
                if key in ("message", "asctime") or key in fields:
                    raise KeyError(f"Attempt to overwrite {key!r} in LogRecord")
            fields.update(extra)
            fields["_agents_sdk_extra"] = extra
        return record

    make_record._agents_sdk = True  # type: ignore[attr-defined]
    logger.makeRecord = make_record  # type: ignore[method-assign]


def _emit_directly(logger: logging.Logger, handler: logging.Handler) -> None:
    """Hand each record straight to `handler` while it is the logger's only handler.

    `Logger.handle` walks filters and the hierarchy and `Handler.handle` takes a lock
    per line; with no filters, one handler of ours and no propagation neither does
    anything, and our handler's `emit` is safe without that lock. Anything else (a
    filter or handler added later, `stack_info=True`) takes the standard path.

    While the handler is our batching one with our JSON formatter, a call without an
    exception is formatted straight from its arguments (`JsonFormatter.format_call`):
    the line is the one the record would give, and no record is built at all.
    """
    from agents_sdk.log_handler import BatchingLineHandler
    from agents_sdk.logs import JsonFormatter

    # The class's own method, not the instance's: a logger given to a new Observability for
    # the same agent would otherwise wrap the previous wrapper, one more each time.
    standard_log = functools.partial(logging.Logger._log, logger)
    make_record = logger.makeRecord
    emit = handler.emit
    formatter = handler.formatter
    direct = type(handler) is BatchingLineHandler and type(formatter) is JsonFormatter
    add_line = handler.add_line if direct else None  # type: ignore[attr-defined]
    format_call = formatter.format_call if direct else None  # type: ignore[union-attr]
    level_names = logging._levelToName
    reserved = frozenset(_RECORD_FIELDS) | {"message", "asctime"}
    time_ns = time.time_ns

    def log_directly(
        level: int,
        msg: object,
        args: Any,
        exc_info: Any = None,
        extra: Mapping[str, object] | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
    ) -> None:
        handlers = logger.handlers
        if (
            stack_info
            or logger.filters
            or logger.propagate
            or len(handlers) != 1
            or handlers[0] is not handler
            or handler.filters
            or level < handler.level
        ):
            standard_log(level, msg, args, exc_info, extra, stack_info, stacklevel + 1)
            return
        if logger.disabled:
            return
        if not exc_info and format_call is not None and handler.formatter is formatter:
            if extra:
                for key in extra:
                    if key in reserved:
                        raise KeyError(f"Attempt to overwrite {key!r} in LogRecord")
            try:
                line = format_call(
                    time_ns(), level_names.get(level) or f"Level {level}", logger.name,
                    msg, args, extra,
                )  # fmt: skip
            except Exception:
                # As Handler.emit: report the bad call (from its record) and carry on.
                handler.handleError(
                    make_record(
                        logger.name,
                        level,
                        "(unknown file)",
                        0,
                        msg,
                        args,
                        None,
                        "(unknown function)",
                        extra,
                        None,
                    )
                )
                return
            add_line(line, level)  # type: ignore[misc]
            return
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
        record = make_record(logger.name, level, "(unknown file)", 0, msg, args, exc_info,
                             "(unknown function)", extra, None)  # fmt: skip
        emit(record)

    logger._log = log_directly  # type: ignore[method-assign]


def make_cheap(logger: logging.Logger, handler: logging.Handler) -> None:
    """All three, for the SDK's own logger and its handler."""
    _skip_caller_lookup(logger)
    _make_records_directly(logger)
    _emit_directly(logger, handler)
