"""The OpenTelemetry API, when installed (the `tracing` extra): the active span's ids.

Without it no span can be active, so every id is None and nothing else changes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["active_span_context", "current_ids", "otel_context", "trace"]

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
except ImportError:  # pragma: no cover - exercised only in an install without the extra
    otel_context = None  # type: ignore[assignment]
    trace = None  # type: ignore[assignment]


def active_span_context() -> Any:
    """The active span's SpanContext if it is valid, else None."""
    if trace is None:
        return None
    ctx = trace.get_current_span().get_span_context()
    return ctx if ctx.is_valid else None


def current_ids() -> tuple[str | None, str | None]:
    """(trace_id, span_id) of the active span as lowercase hex, or (None, None)."""
    ctx = active_span_context()
    if ctx is None:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
