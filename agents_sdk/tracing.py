"""Tracing on the OpenTelemetry SDK: a TracerProvider owned by one Observability.

Spans go through a BatchSpanProcessor with a bounded queue; what it drops is
counted into `agent_spans_dropped_total`. The processor (and its exporter, whose
gRPC channel does not survive fork) is rebuilt in a forked child. The exporter
is chosen from arguments or the standard `OTEL_*` variables.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from agents_sdk import environment as env

INSTRUMENTATION_NAME = "agents_sdk"
PROTOCOLS = ("grpc", "http/protobuf")


class _DropCounter:
    """Stands in for the batch processor's internal metrics to see every dropped span."""

    def __init__(self, inner: Any, on_drop: Callable[[int], None]):
        self._inner = inner
        self._on_drop = on_drop

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        self._on_drop(count)
        self._inner.drop_items(count, error_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingBatchSpanProcessor(SpanProcessor):
    """A BatchSpanProcessor with a bounded queue, drops counted, rebuilt after fork."""

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
        self._inner = self._build()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._rebuild_in_child)

            def after_in_child() -> None:
                if (rebuild := ref()) is not None:
                    rebuild()

            os.register_at_fork(after_in_child=after_in_child)

    def _build(self) -> BatchSpanProcessor:
        inner = BatchSpanProcessor(self._exporter_factory(), **self._options)  # type: ignore[arg-type]
        batch = getattr(inner, "_batch_processor", None)
        # The SDK exposes no drop callback; its internal metrics hook is where drops are seen.
        if batch is not None and hasattr(batch, "_metrics"):
            batch._metrics = _DropCounter(batch._metrics, self._on_drop)
        return inner

    def _rebuild_in_child(self) -> None:
        # The parent's spans still queued belong to the parent; the child starts empty with
        # its own worker thread and its own exporter connection.
        old = self._inner
        self._inner = self._build()
        batch = getattr(old, "_batch_processor", None)
        if batch is not None:
            batch._shutdown = True
            batch._worker_awaken.set()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def abort(self) -> None:
        """Stop the exporter's retries now (a deadline passed); queued spans are lost."""
        # An exporter failing to stop must not fail the agent's shutdown.
        with contextlib.suppress(Exception):
            self._inner.span_exporter.shutdown()


def otlp_exporter(endpoint: str | None = None, protocol: str | None = None) -> SpanExporter:
    """An OTLP span exporter for `protocol` (grpc or http/protobuf), per OTEL_* when unset.

    `endpoint` is the collector's base address (like OTEL_EXPORTER_OTLP_ENDPOINT):
    HTTP gets `/v1/traces` appended unless a path is already there.
    """
    protocol = (
        protocol
        or env.first(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, env.OTEL_EXPORTER_OTLP_PROTOCOL)
        or "grpc"
    )
    if protocol not in PROTOCOLS:
        raise ValueError(f"OTLP protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if protocol == "grpc":
        from agents_sdk.otlp_grpc import GrpcSpanExporter as GrpcExporter

        insecure = None
        if endpoint is not None:
            insecure = urlsplit(endpoint).scheme != "https"
        return GrpcExporter(endpoint=endpoint, insecure=insecure)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    if endpoint is not None and urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return HttpExporter(endpoint=endpoint)


def exporter_factory_from_env(
    endpoint: str | None, protocol: str | None
) -> Callable[[], SpanExporter] | None:
    """What OTEL_TRACES_EXPORTER asks for: otlp (default), console, or none (no export)."""
    names = (env.text(env.OTEL_TRACES_EXPORTER) or "otlp").lower()
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    if "none" in chosen or not chosen:
        return None
    if chosen[0] == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter
    if chosen[0] != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={names!r}: supported are otlp, console, none")
    return lambda: otlp_exporter(endpoint, protocol)


class AgentTracing:
    """A TracerProvider of our own, plus the processor whose drops we count."""

    enabled = True

    def __init__(
        self,
        service_name: str | None,
        *,
        exporter_factory: Callable[[], SpanExporter] | None,
        on_drop: Callable[[int], None],
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        set_global: bool = False,
        resource_attributes: dict[str, Any] | None = None,
    ):
        attributes = dict(resource_attributes or {})
        # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read by Resource.create.
        if service_name and not env.text(env.OTEL_SERVICE_NAME):
            attributes.setdefault("service.name", service_name)
        self.provider = TracerProvider(resource=Resource.create(attributes))
        self.processor: CountingBatchSpanProcessor | None = None
        if exporter_factory is not None:
            self.processor = CountingBatchSpanProcessor(
                exporter_factory,
                on_drop,
                max_queue_size=max_queue_size,
                schedule_delay_millis=schedule_delay_millis,
            )
            self.provider.add_span_processor(self.processor)
        if set_global:
            trace.set_tracer_provider(self.provider)
        self.tracer = self.provider.get_tracer(INSTRUMENTATION_NAME)

    def force_flush(self, timeout: float) -> bool:
        return self.provider.force_flush(int(timeout * 1000))

    def shutdown(self) -> None:
        self.provider.shutdown()

    def abort(self) -> None:
        if self.processor is not None:
            self.processor.abort()
