"""The OpenTelemetry API, when installed (the `tracing` extra): the active span and its ids.

Without it no span can be active, so every id is None and nothing else changes.

The hot path (three log lines and an audit event per step, each asking for the active
span) reads the API's context variable directly when the runtime context is the
default contextvars one: `trace.get_current_span()` takes four calls and an ABC
`isinstance` for the same dict lookup. Any other runtime context takes the API.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "active_span_context",
    "attach_span",
    "current_ids",
    "current_span",
    "detach_span",
    "otel_context",
    "span_hex_ids",
    "trace",
]

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.context.context import Context
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    from opentelemetry.trace.propagation import _SPAN_KEY
    from opentelemetry.trace.span import INVALID_SPAN
except ImportError:  # pragma: no cover - exercised only in an install without the extra
    otel_context = None  # type: ignore[assignment]
    trace = None  # type: ignore[assignment]

_NO_IDS: tuple[str | None, str | None] = (None, None)
_context_var: Any = None
if otel_context is not None:
    _runtime = otel_context._RUNTIME_CONTEXT
    if type(_runtime) is ContextVarsRuntimeContext:
        _context_var = _runtime._current_context


def current_span() -> Any:
    """The active span (the API's INVALID_SPAN when there is none); None without the API."""
    if _context_var is not None:
        span = _context_var.get().get(_SPAN_KEY)
        return INVALID_SPAN if span is None else span
    if trace is None:
        return None
    return trace.get_current_span()


def attach_span(span: Any) -> Any:
    """Make `span` the active one; returns the token for `detach_span`."""
    if _context_var is not None:
        values = dict(_context_var.get())
        values[_SPAN_KEY] = span
        return _context_var.set(Context(values))
    return otel_context.attach(trace.set_span_in_context(span))


def detach_span(token: Any) -> None:
    """Restore the context `attach_span` replaced."""
    if _context_var is not None:
        try:
            _context_var.reset(token)
            return
        except ValueError:  # another context's token (a generator moved across tasks)
            pass
    otel_context.detach(token)  # logs the failure, as the API does


# The last span whose ids were asked for, and its ids in hex: the lines and the audit
# event of one step all ask about the same span. One tuple, swapped whole, so threads
# never mix two spans; it holds the span, so its identity cannot be reused meanwhile.
_last_ids: tuple[Any, str | None, str | None] = (None, None, None)


def span_hex_ids(span: Any) -> tuple[str | None, str | None]:
    """(trace_id, span_id) of `span` as lowercase hex, or (None, None) if it is not valid."""
    global _last_ids
    last = _last_ids
    if span is last[0]:
        return last[1], last[2]
    if span is None:
        return _NO_IDS
    ctx = span.get_span_context()
    if ctx is None or not ctx.is_valid:
        _last_ids = (span, None, None)
        return _NO_IDS
    trace_hex, span_hex = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
    _last_ids = (span, trace_hex, span_hex)
    return trace_hex, span_hex


def active_span_context() -> Any:
    """The active span's SpanContext if it is valid, else None."""
    span = current_span()
    if span is None:
        return None
    ctx = span.get_span_context()
    return ctx if ctx.is_valid else None


def current_ids() -> tuple[str | None, str | None]:
    """(trace_id, span_id) of the active span as lowercase hex, or (None, None)."""
    return span_hex_ids(current_span())
