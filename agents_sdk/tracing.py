"""Tracing on the OpenTelemetry SDK: a TracerProvider owned by one Observability.

Spans go through a BatchSpanProcessor with a bounded queue; what it drops is
counted into `agent_spans_dropped_total`. The processor (and its exporter, whose
gRPC channel does not survive fork) is rebuilt in a forked child. The exporter
is chosen from arguments or the standard `OTEL_*` variables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import SpanExporter

from agents_sdk import environment as env
from agents_sdk.reports import SpanCounts
from agents_sdk.span_export import CountingBatchSpanProcessor
from agents_sdk.spans import SpanRecorder

INSTRUMENTATION_NAME = "agents_sdk"
PROTOCOLS = ("grpc", "http/protobuf")


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
    """A TracerProvider of our own, plus the processor whose every span is counted."""

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
        self._recorder: SpanRecorder | None = None
        if self.provider.sampler is sampling.DEFAULT_ON:
            self._recorder = SpanRecorder(
                self.provider._active_span_processor,
                self.provider.resource,
                self.tracer._instrumentation_scope,  # type: ignore[attr-defined]
            )

    def start_span(self, name: str, attributes: dict[str, Any]) -> trace.Span:
        """A hook's span (not yet the active one: the hook attaches it)."""
        if self._recorder is not None:
            return self._recorder.start(name, attributes)
        return self.tracer.start_span(name, attributes=attributes)

    @property
    def counts(self) -> SpanCounts:
        """Spans ended, exported, dropped and failed so far."""
        if self.processor is None:
            return SpanCounts(0, 0, 0, 0)
        return self.processor.counts

    def force_flush(self, timeout: float) -> bool:
        return self.provider.force_flush(int(timeout * 1000))

    def shutdown(self) -> None:
        self.provider.shutdown()

    def report_drops(self) -> None:
        if self.processor is not None:
            self.processor.report_drops()

    def abort(self) -> int:
        """Give up on what is not exported yet; returns how many spans that lost."""
        if self.processor is None:
            return 0
        return self.processor.abort()
