"""OpenTelemetry for the portal and the workers: Django, Celery and psycopg spans over OTLP.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set; the OTLP
exporter reads the rest of its configuration (protocol, headers, OTEL_SERVICE_NAME)
from the standard OTEL_* variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, TraceFlags

TRACER_NAME = "obsportal"
# The SDK keeps at most 128 links on a span by default; more would be dropped anyway.
MAX_LINKS = 128
EXCLUDED_URLS = "metrics,healthz,readyz,static/"
_configured = False


def tracing_enabled() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(default_service_name: str) -> bool:
    """Install the tracer provider and the instrumentations once per process."""
    global _configured
    if _configured or not tracing_enabled():
        return _configured
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", default_service_name)}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_span_exporter()))
    trace.set_tracer_provider(provider)
    _instrument_libraries()
    _configured = True
    return True


def _span_exporter():
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    )
    if protocol.startswith("http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def _instrument_libraries() -> None:
    from django.db.backends.signals import connection_created
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().instrument(excluded_urls=EXCLUDED_URLS)
    CeleryInstrumentor().instrument()
    connection_created.connect(trace_psycopg_connection, weak=False)


def trace_psycopg_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Give a new psycopg connection a cursor class that records one span per statement.

    opentelemetry-instrumentation-psycopg has no release for opentelemetry-sdk 1.45.2
    (its 0.66b1 pins API 1.45.1), so this does what its `instrument_connection` does,
    with the DB-API integration of opentelemetry-instrumentation-dbapi 0.66b2.
    """
    if connection.vendor != "postgresql":
        return
    from opentelemetry.instrumentation.dbapi import CursorTracer, DatabaseApiIntegration

    raw = connection.connection
    base = raw.cursor_factory
    if getattr(base, "_otel_traced", False):
        return
    integration = DatabaseApiIntegration(
        "obsportal.telemetry.psycopg",
        "postgresql",
        connection_attributes={
            "database": "info.dbname",
            "port": "info.port",
            "host": "info.host",
            "user": "info.user",
        },
    )
    integration.get_connection_attributes(raw)
    tracer = CursorTracer(integration)

    class TracedCursor(base):
        _otel_traced = True

        def execute(self, *args: Any, **kwargs: Any):
            return tracer.traced_execution(self, super().execute, *args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any):
            return tracer.traced_execution(self, super().executemany, *args, **kwargs)

        @contextmanager
        def copy(self, statement: Any, *args: Any, **kwargs: Any):
            # COPY is a context manager in psycopg 3: the span covers the whole transfer.
            text = statement.as_string(self) if hasattr(statement, "as_string") else statement
            if isinstance(text, bytes):
                text = text.decode(errors="replace")
            with (
                trace.get_tracer(TRACER_NAME).start_as_current_span(
                    "COPY",
                    kind=trace.SpanKind.CLIENT,
                    attributes={"db.system": "postgresql", "db.statement": str(text)},
                ),
                super().copy(statement, *args, **kwargs) as copy,
            ):
                yield copy

    raw.cursor_factory = TracedCursor


def event_links(events: Iterable[Any]) -> list[Link]:
    """Links to the spans that recorded these audit events (their trace_id / span_id)."""
    links: dict[tuple[int, int], Link] = {}
    for event in events:
        # Most events outside any span carry no ids: skip them before parsing anything.
        if not isinstance(event, dict) or not event.get("trace_id") or not event.get("span_id"):
            continue
        try:
            trace_id = int(event["trace_id"], 16)
            span_id = int(event["span_id"], 16)
        except (TypeError, ValueError):
            continue
        if not trace_id or not span_id or (trace_id, span_id) in links:
            continue
        context = SpanContext(
            trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
        links[(trace_id, span_id)] = Link(
            context, {"audit.event_id": str(event.get("event_id", ""))}
        )
        if len(links) >= MAX_LINKS:
            break
    return list(links.values())


@contextmanager
def ingest_span(events: Any) -> Iterator[trace.Span]:
    """The span of one ingest batch, linked to the agent spans of the events it carries."""
    offered = events if isinstance(events, list) else []
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        "obsportal.ingest.admit_batch",
        attributes={"obsportal.ingest.offered": len(offered)},
    ) as span:
        if span.is_recording():  # with tracing off, building links is wasted work
            for link in event_links(offered):
                span.add_link(link.context, link.attributes)
        yield span
