"""The span pipeline's accounting: every span ended is exported, dropped, failed or lost.

`CountingBatchSpanProcessor` wraps the SDK's BatchSpanProcessor. A span that meets a
full queue is dropped here, counted, and never reaches the SDK, whose "Queue full,
dropping Span." warning would otherwise be logged once per span; instead one WARNING
a minute says how many were dropped (`DROP_LOG_INTERVAL`). The exporter is wrapped to
count what the collector accepted and what failed. The processor (and its exporter,
whose gRPC channel does not survive fork) is rebuilt in a forked child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from agents_sdk.reports import SpanCounts

log = logging.getLogger("agents_sdk.tracing")

DROP_LOG_INTERVAL = 60.0  # seconds between two warnings about dropped spans


class _CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, counts: CountingBatchSpanProcessor):
        self.inner = inner
        self._counts = counts

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            self._counts._failed_export(len(spans))
            raise
        if result is SpanExportResult.SUCCESS:
            self._counts._exported(len(spans))
        else:
            self._counts._failed_export(len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class CountingBatchSpanProcessor(SpanProcessor):
    """A BatchSpanProcessor with a bounded queue whose every span is accounted for."""

    def __init__(
        self,
        exporter_factory: Callable[[], SpanExporter],
        on_drop: Callable[[int], None],
        *,
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        max_export_batch_size: int | None = None,
    ):
        self._exporter_factory = exporter_factory
        self._on_drop = on_drop
        if max_queue_size is not None and max_export_batch_size is None:
            # The SDK refuses a batch larger than the queue; a small queue means small batches.
            max_export_batch_size = min(
                max_queue_size,
                BatchSpanProcessor._default_max_export_batch_size(),  # type: ignore[no-untyped-call]
            )
        self._options = {
            "max_queue_size": max_queue_size,
            "schedule_delay_millis": schedule_delay_millis,
            "max_export_batch_size": max_export_batch_size,
        }
        self._lock = threading.Lock()
        self.ended = self.exported = self.dropped = self.failed = 0
        self._unreported_drops = 0
        self._last_drop_log = 0.0
        self._aborted = False
        self._inner = self._build()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._rebuild_in_child)

            def after_in_child() -> None:
                if (rebuild := ref()) is not None:
                    rebuild()

            os.register_at_fork(after_in_child=after_in_child)

    def _build(self) -> BatchSpanProcessor:
        exporter = _CountingExporter(self._exporter_factory(), self)
        inner = BatchSpanProcessor(exporter, **self._options)  # type: ignore[arg-type]
        batch = inner._batch_processor
        self._queue = batch._queue
        self._max_queue_size = batch._max_queue_size
        return inner

    def _rebuild_in_child(self) -> None:
        # The parent's spans still queued belong to the parent; the child starts empty with
        # its own worker thread, its own exporter connection and its own counts.
        old = self._inner
        self._lock = threading.Lock()
        self.ended = self.exported = self.dropped = self.failed = 0
        self._unreported_drops = 0
        self._inner = self._build()
        batch = old._batch_processor
        batch._shutdown = True
        batch._worker_awaken.set()

    @property
    def counts(self) -> SpanCounts:
        return SpanCounts(self.ended, self.exported, self.dropped, self.failed)

    @property
    def span_exporter(self) -> SpanExporter:
        return self._inner.span_exporter  # type: ignore[no-any-return]

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:  # agents end spans from many threads; every one must be counted
            self.ended += 1
        if len(self._queue) >= self._max_queue_size:
            self._drop(1)
            return
        self._inner.on_end(span)

    def _drop(self, count: int) -> None:
        with self._lock:
            self.dropped += count
            self._unreported_drops += count
            now = time.monotonic()
            report = now - self._last_drop_log >= DROP_LOG_INTERVAL
            if report:
                unreported, self._unreported_drops = self._unreported_drops, 0
                self._last_drop_log = now
        self._on_drop(count)
        if report:
            self._warn(unreported)

    def _warn(self, count: int) -> None:
        log.warning(
            "dropped %d span(s) since the last report: the export queue (%d spans) was full "
            "or shutdown gave up on them, so the collector is slow or unreachable "
            "(agent_spans_dropped_total counts them all)",
            count,
            self._max_queue_size,
        )

    def report_drops(self) -> None:
        """Log the drops not yet reported (at shutdown: the last minute's would be lost)."""
        with self._lock:
            unreported, self._unreported_drops = self._unreported_drops, 0
        if unreported:
            self._warn(unreported)

    def _exported(self, count: int) -> None:
        with self._lock:
            if not self._aborted:
                self.exported += count

    def _failed_export(self, count: int) -> None:
        with self._lock:
            if self._aborted:
                return
            self.failed += count
        self._on_drop(count)

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def abort(self) -> int:
        """Stop exporting now (a deadline passed): what is queued or in the exporter's hands
        counts as dropped, and a late answer from the exporter changes no count."""
        batch = self._inner._batch_processor
        batch._shutdown = True
        batch._shutdown_timeout_exceeded = True
        with self._lock:
            self._aborted = True
            self._queue.clear()
            left = self.ended - self.exported - self.dropped - self.failed
        if left > 0:
            self._drop(left)
        # An exporter failing to stop must not fail the agent's shutdown.
        with contextlib.suppress(Exception):
            self.span_exporter.shutdown()
        return left
