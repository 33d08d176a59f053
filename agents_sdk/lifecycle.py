"""Shutting an Observability down: every part flushed within its bound, and a report.

Audit comes first and gets the whole `timeout`: the journal is made durable, the
shipper drains it to the portal. Spans export at the same time but get at most
`TracingConfig.shutdown_timeout` seconds (default `SPANS_SHUTDOWN_TIMEOUT`, 1 s): an
absent collector makes the OTLP exporter retry for up to 10 s a batch, and no agent
should wait that long to exit for telemetry that is not evidence. What is still
queued then is counted as dropped. Logs are written last, metrics stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from agents_sdk.logs import close_json_logger
from agents_sdk.reports import ShutdownReport

if TYPE_CHECKING:
    from agents_sdk.observability import Observability

SPANS_SHUTDOWN_TIMEOUT = 1.0  # seconds shutdown() waits for spans, at most


def _in_background(work: Callable[[], None], name: str) -> threading.Event:
    """Run `work` on a daemon thread; the event is set when it has finished (or failed)."""
    finished = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            finished.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    return finished


def shut_down(obs: Observability, timeout: float) -> ShutdownReport:
    started = time.monotonic()
    deadline = started + max(0.0, timeout)

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    tracing = obs.tracing
    spans_flushed: list[bool] = []
    spans_done: threading.Event | None = None
    if tracing.enabled:
        bound = SPANS_SHUTDOWN_TIMEOUT
        if obs.parts.tracing is not None:
            bound = obs.parts.tracing.shutdown_timeout
        spans_deadline = min(deadline, started + bound)

        def stop_tracing() -> None:
            spans_flushed.append(tracing.force_flush(max(0.0, spans_deadline - time.monotonic())))
            tracing.shutdown()

        # Spans export while the journal flushes: both wait on I/O.
        spans_done = _in_background(stop_tracing, "agents-sdk-trace-shutdown")

    audit_durable = audit_shipped = None
    pending, shipping_error = 0, None
    if obs.journal is not None:
        audit_durable = obs.journal.flush(timeout=left())
    if obs.shipper is not None:
        audit_shipped = obs.shipper.stop(timeout=left())
        shipping_error = None if audit_shipped else obs.shipper.last_error
    if obs.journal is not None:
        obs.journal.close()
        pending = obs.pending_events()

    # The pending/shipped figures are final now. The exposition server takes up to its
    # poll interval (0.5 s) to stop, so it runs beside the wait for spans.
    metrics_stopped = None
    if obs.metrics.enabled:
        if obs.metrics_port is None:
            obs.metrics.shutdown()
            metrics_done = None
        else:
            metrics_done = _in_background(obs.metrics.shutdown, "agents-sdk-metrics-shutdown")
    spans_exported, counts = None, None
    if spans_done is not None:
        if not spans_done.wait(max(0.0, spans_deadline - time.monotonic())):
            # The collector is unreachable or slow: end the exporter's retries so the
            # abandoned thread finishes soon; what is still queued counts as dropped.
            tracing.abort()
        tracing.report_drops()
        counts = tracing.counts
        spans_exported = (
            bool(spans_flushed and spans_flushed[0]) and counts.lost == 0 and (counts.queued == 0)
        )
    if obs.metrics.enabled:
        metrics_stopped = metrics_done.wait(left()) if metrics_done is not None else True
    logs_written = None if obs.logger.disabled else close_json_logger(obs.logger)
    return ShutdownReport(
        seconds=time.monotonic() - started,
        audit_durable=audit_durable,
        audit_shipped=audit_shipped,
        audit_pending=pending,
        shipping_error=shipping_error,
        spans_exported=spans_exported,
        spans=counts,
        logs_written=logs_written,
        metrics_stopped=metrics_stopped,
    )
