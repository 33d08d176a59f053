"""shutdown(): bounded per part, quick when audit is done, and a report of what each part did."""

from __future__ import annotations

import io
import socket
import time

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents_sdk import (
    AuditConfig,
    InMemoryTransport,
    LoggingConfig,
    Observability,
    TracingConfig,
)
from agents_sdk.lifecycle import SPANS_SHUTDOWN_TIMEOUT


def absent_collector() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_shutdown_with_an_absent_collector_returns_within_its_bound_and_reports_each_part(
    tmp_path,
):
    transport, out = InMemoryTransport(), io.StringIO()
    obs = Observability(
        "agent-7",
        AuditConfig(tmp_path / "audit.jsonl", transport=transport),
        metrics=True,
        logging=LoggingConfig(stream=out),
        tracing=TracingConfig(otlp_endpoint=absent_collector(), otlp_protocol="grpc"),
    )
    for i in range(50):
        with obs.step("answer"):
            obs.logger.info("step %d", i)
    started = time.monotonic()
    report = obs.shutdown(timeout=10)
    took = time.monotonic() - started
    assert took < SPANS_SHUTDOWN_TIMEOUT + 1.5, took  # not the 10 s, not the exporter's retries
    assert not report
    assert report.parts == {"audit": True, "tracing": False, "logging": True, "metrics": True}
    assert (report.audit_durable, report.audit_shipped, report.audit_pending) == (True, True, 0)
    assert len(transport.events) == 50
    spans = report.spans
    assert spans is not None and spans.ended == 50 and spans.exported == 0
    assert spans.dropped + spans.failed == 50 and spans.queued == 0  # every span accounted for
    assert out.getvalue().count("\n") == 50


def test_a_clean_shutdown_is_true_and_counts_every_span_exported(tmp_path):
    spans = InMemorySpanExporter()
    obs = Observability(
        "agent-7",
        AuditConfig(tmp_path / "audit.jsonl", transport=InMemoryTransport()),
        tracing=TracingConfig(span_exporter=spans),
    )
    for _ in range(5):
        with obs.tool_call("search"):
            pass
    report = obs.shutdown(timeout=10)
    assert report, report
    assert report.spans is not None
    assert (report.spans.ended, report.spans.exported, report.spans.lost) == (5, 5, 0)
    assert len(spans.get_finished_spans()) == 5
    assert report.parts == {"audit": True, "tracing": True, "logging": None, "metrics": None}


def test_shutdown_returns_as_soon_as_audit_is_shipped_when_the_portal_is_down(tmp_path):
    from agents_sdk import TransportError

    def down(events):
        raise TransportError("connection refused")

    audit = AuditConfig(tmp_path / "a.jsonl", transport=InMemoryTransport(down))
    obs = Observability("agent-7", audit)
    obs.record_audit("data_access")
    started = time.monotonic()
    report = obs.shutdown(timeout=1.0)
    assert time.monotonic() - started < 2.5
    assert report.parts["audit"] is False
    assert (report.audit_durable, report.audit_shipped, report.audit_pending) == (True, False, 1)
    assert report.shipping_error == "connection refused"
