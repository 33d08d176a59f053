"""The span pipeline: a bounded queue, a worker thread, and every span accounted for.

`CountingBatchSpanProcessor` batches ended spans for one exporter as the SDK's
BatchSpanProcessor does (the same `OTEL_BSP_*` settings and defaults), and counts
each span as exported, dropped (the queue was full, or shutdown gave up on it) or
failed (the exporter said so); `agent_spans_dropped_total` gets the dropped and the
failed, and one WARNING a minute says how many (`DROP_LOG_INTERVAL`), instead of the
SDK's "Queue full, dropping Span." once per span.

With the SDK's own OTLP exporters (`agents_sdk.otlp_grpc`), a span is encoded to its
protobuf bytes when it ends, in the thread that ended it, and the queue holds those
bytes. The worker thread then only frames a batch and hands it to gRPC, which sends
it without the GIL: it never holds the GIL for a whole batch's encoding (milliseconds,
during which the agent's thread would wait), and the queued spans are plain bytes
that the garbage collector never has to traverse. Any other exporter gets the spans.

The processor (its queue, worker and exporter, whose gRPC channel does not survive
fork) is rebuilt in a forked child, which starts with empty counts.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from agents_sdk.reports import SpanCounts

log = logging.getLogger("agents_sdk.tracing")

DROP_LOG_INTERVAL = 60.0  # seconds between two warnings about dropped spans

_defaults = BatchSpanProcessor  # its static methods read the OTEL_BSP_* variables


class CountingBatchSpanProcessor(SpanProcessor):
    """A batching span processor with a bounded queue whose every span is accounted for."""

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
        if max_queue_size is None:
            max_queue_size = _defaults._default_max_queue_size()  # type: ignore[no-untyped-call]
        if schedule_delay_millis is None:
            schedule_delay_millis = _defaults._default_schedule_delay_millis()  # type: ignore[no-untyped-call]
        if max_export_batch_size is None:
            # A batch larger than the queue could never fill: a small queue, small batches.
            max_export_batch_size = min(
                max_queue_size,
                _defaults._default_max_export_batch_size(),  # type: ignore[no-untyped-call]
            )
        if max_queue_size <= 0 or schedule_delay_millis <= 0 or max_export_batch_size <= 0:
            raise ValueError("span queue size, schedule delay and batch size must be positive")
        if max_export_batch_size > max_queue_size:
            raise ValueError("the span batch size must not be larger than the queue")
        self._max_queue_size = max_queue_size
        self._schedule_delay = schedule_delay_millis / 1000
        self._batch_size = max_export_batch_size
        self._last_drop_log = 0.0
        self._start()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._rebuild_in_child)

            def after_in_child() -> None:
                if (rebuild := ref()) is not None:
                    rebuild()

            os.register_at_fork(after_in_child=after_in_child)

    def _start(self) -> None:
        self._lock = threading.Lock()  # the counts and the queue's bound
        self._export_lock = threading.Lock()  # one export at a time: the worker or a flush
        self.ended = self.exported = self.dropped = self.failed = 0
        self._unreported_drops = 0
        self._aborted = self._shutdown = False
        self._queue: collections.deque[Any] = collections.deque()
        self._exporter = self._exporter_factory()
        # The SDK's OTLP exporters take spans encoded as they end (see the module doc).
        self._encode: Callable[[ReadableSpan], Any] | None = getattr(
            self._exporter, "encode_span", None
        )
        self._export_encoded: Callable[[list[Any]], SpanExportResult] | None = getattr(
            self._exporter, "export_encoded", None
        )
        if self._encode is None or self._export_encoded is None:
            self._encode = self._export_encoded = None
        self._wake = threading.Event()
        self._worker = threading.Thread(
            target=self._work, name="agents-sdk-span-export", daemon=True
        )
        self._worker.start()

    def _rebuild_in_child(self) -> None:
        # The parent's spans still queued belong to the parent; the child starts empty with
        # its own worker thread, its own exporter connection and its own counts.
        self._start()

    @property
    def counts(self) -> SpanCounts:
        return SpanCounts(self.ended, self.exported, self.dropped, self.failed)

    @property
    def span_exporter(self) -> SpanExporter:
        return self._exporter

    # --- the agent's side ------------------------------------------------------------------

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        queue = self._queue
        item: Any = span
        full = len(queue) >= self._max_queue_size or self._shutdown
        if not full and self._encode is not None:
            try:
                item = self._encode(span)
            except Exception:  # as the upstream exporter: a span that cannot be encoded fails
                log.exception("a span could not be encoded for export")
                with self._lock:
                    self.ended += 1
                    self.failed += 1
                self._on_drop(1)
                return
        with self._lock:  # agents end spans from many threads; every one must be counted
            self.ended += 1
            if not full:
                full = len(queue) >= self._max_queue_size or self._shutdown
                if not full:
                    queue.append(item)
        if full:
            self._drop(1)
        elif len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    # --- the worker's side -----------------------------------------------------------------

    def _work(self) -> None:
        while not self._shutdown:
            woken = self._wake.wait(self._schedule_delay)
            self._wake.clear()
            if self._shutdown:
                break
            # Woken: the queue holds a full batch; else the delay passed: send what there is.
            self._export(everything=False, at_least_one=not woken)

    def _export(self, *, everything: bool, at_least_one: bool = False) -> None:
        with self._export_lock:
            first = True
            queue = self._queue
            while queue and not self._aborted:
                short = len(queue) < self._batch_size and not everything
                if short and not (at_least_one and first):
                    return
                first = False
                count = min(self._batch_size, len(queue))
                batch = [queue.popleft() for _ in range(count)]
                token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
                try:
                    if self._export_encoded is not None:
                        result = self._export_encoded(batch)
                    else:
                        result = self._exporter.export(batch)
                except Exception:
                    log.exception("exporting %d span(s) failed", count)
                    result = SpanExportResult.FAILURE
                finally:
                    detach(token)
                if result is SpanExportResult.SUCCESS:
                    self._exported(count)
                else:
                    self._failed_export(count)

    # --- accounting ------------------------------------------------------------------------

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

    # --- flush, shutdown, abort ------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now (in this thread); False once shut down."""
        if self._shutdown:
            return False
        self._export(everything=True)
        return not self._queue

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._wake.set()
        self._worker.join()
        self._export(everything=True)
        self._exporter.shutdown()

    def abort(self) -> int:
        """Stop exporting now (a deadline passed): what is queued or in the exporter's hands
        counts as dropped, and a late answer from the exporter changes no count."""
        self._shutdown = True
        self._wake.set()
        with self._lock:
            self._aborted = True
            self._queue.clear()
            left = self.ended - self.exported - self.dropped - self.failed
        if left > 0:
            self._drop(left)
        # An exporter failing to stop must not fail the agent's shutdown.
        with contextlib.suppress(Exception):
            self._exporter.shutdown()
        return left
