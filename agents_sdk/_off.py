"""The parts that are off: same methods as the real ones, doing nothing.

They live apart from `metrics.py` and `tracing.py` so that an agent with those
parts off never imports prometheus_client or the OpenTelemetry SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class NoMetrics:
    """Metrics off: every report is a no-op."""

    enabled = False
    registry = None

    def step(self, status: str, seconds: float) -> None:
        pass

    def tool_call(self, tool: str, status: str, seconds: float) -> None:
        pass

    def llm_call(self, *args: Any) -> None:
        pass

    def error(self, kind: str) -> None:
        pass

    def permission(self, granted: bool) -> None:
        pass

    def audit_event_recorded(self) -> None:
        pass

    def record(self, name: str, value: float, kind: str = "counter", *args: Any) -> None:
        pass

    def batch_refused(self, reason: str) -> None:
        pass

    def span_dropped(self, count: int = 1) -> None:
        pass

    def step_overhead(self, seconds: float) -> None:
        pass

    def track_audit_progress(self, progress: Callable[[], tuple[int, int]]) -> None:
        pass

    def refresh_audit_progress(self) -> None:
        pass

    def exposition(self) -> bytes:
        return b""

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        raise RuntimeError("metrics are off: pass metrics=True (or set AGENTS_SDK_METRICS=1)")

    def shutdown(self) -> None:
        pass


class NoTracing:
    """Tracing off: no spans are started; the active span (anyone's) still links audit events."""

    enabled = False
    provider = None
    processor = None
    tracer = None

    @property
    def counts(self) -> Any:
        from agents_sdk.reports import SpanCounts

        return SpanCounts(0, 0, 0, 0)

    def start_span(self, name: str, attributes: dict[str, Any]) -> None:
        return None

    def force_flush(self, timeout: float) -> bool:
        return True

    def shutdown(self) -> None:
        pass

    def abort(self) -> int:
        return 0

    def report_drops(self) -> None:
        pass
