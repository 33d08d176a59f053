"""From an agent step to its ingest: the worker's and the portal's ingest spans link to
the agent spans of the events they admit, as a real OTLP/gRPC receiver sees them."""

from __future__ import annotations

import sys

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agents_sdk import Observability
from tests.telemetry.conftest import (
    free_port,
    portal_env,
    start_worker,
    wait_http,
    wait_worker_ready,
)
from tests.telemetry.otlp_receiver import OtlpReceiver
from tests.telemetry.test_prometheus_proof import post_batch

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
INGEST_SPAN = "obsportal.ingest.admit_batch"


def attribute(span, key: str):
    for item in span.attributes:
        if item.key == key:
            value = item.value
            return getattr(value, value.WhichOneof("value"))
    return None


def agent_steps(receiver_endpoint: str, obs: Observability, count: int) -> list[tuple[str, str]]:
    """Agent steps, each in its own span, each recording one audit event with its span's ids."""
    provider = TracerProvider(resource=Resource.create({"service.name": "trace-agent"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver_endpoint, insecure=True))
    )
    tracer = provider.get_tracer("agent")
    ids = []
    for i in range(count):
        with tracer.start_as_current_span("agent.step") as span:
            context = span.get_span_context()
            trace_id, span_id = f"{context.trace_id:032x}", f"{context.span_id:016x}"
            obs.record_audit(
                "tool_execute", details={"step": i}, trace_id=trace_id, span_id=span_id
            )
            ids.append((trace_id, span_id))
    provider.shutdown()
    return ids


def linked_ids(span) -> set[tuple[str, str]]:
    return {(link.trace_id.hex(), link.span_id.hex()) for link in span.links}


def test_worker_ingest_span_links_to_the_agent_step_spans(
    processes, own_redis, test_database_url, tmp_path, monkeypatch
):
    from obsportal.accounts.services import issue_agent_token

    # Celery prefers CELERY_BROKER_URL from the environment over the broker_url given
    # to CeleryTransport: point it at this test's own Redis.
    monkeypatch.setenv("CELERY_BROKER_URL", own_redis)
    token = issue_agent_token("trace-agent")
    with OtlpReceiver() as receiver:
        otel = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        worker, log = start_worker(
            processes,
            portal_env(test_database_url, own_redis, OTEL_SERVICE_NAME="obsportal-worker", **otel),
            concurrency=1,
        )
        wait_worker_ready(log, worker)
        obs = Observability("trace-agent", tmp_path / "agent.jsonl", broker_url=own_redis,
                            ingest_token=token)  # fmt: skip
        steps = agent_steps(receiver.endpoint, obs, 3)
        assert obs.shutdown(timeout=30), obs.shipper.last_error

        agent_spans = receiver.wait_for(lambda s, span: s == "trace-agent")
        assert {(span.trace_id.hex(), span.span_id.hex()) for _, span in agent_spans} == set(steps)
        ingest = receiver.wait_for(
            lambda s, span: s == "obsportal-worker" and span.name == INGEST_SPAN
            and attribute(span, "obsportal.ingest.admitted")
        )  # fmt: skip
        linked = set().union(*(linked_ids(span) for _, span in ingest))
        assert linked == set(steps)
        _, span = ingest[0]
        assert attribute(span, "obsportal.ingest.status") == "accepted"
        # The ingest span runs inside the Celery task's span, and the statements under it.
        trace_spans = receiver.wait_for(
            lambda s, other: (
                other.trace_id == span.trace_id and other.span_id == span.parent_span_id
            )
        )
        assert "obsportal.ingest.admit_batch" in trace_spans[0][1].name  # run/<task name>
        statements = receiver.wait_for(
            lambda s, other: (
                other.trace_id == span.trace_id and attribute(other, "db.system") == "postgresql"
            )
        )
        assert any("ingest_auditevent" in (attribute(st, "db.statement") or "")
                   for _, st in statements)  # fmt: skip


def test_portal_http_ingest_is_traced_with_links(processes, own_redis, test_database_url, tmp_path):
    from obsportal.accounts.services import issue_agent_token

    token = issue_agent_token("http-trace-agent")
    with OtlpReceiver() as receiver:
        port = free_port()
        env = portal_env(
            test_database_url,
            own_redis,
            OTEL_SERVICE_NAME="obsportal-web",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="200",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="1",
        )
        web, log = processes.start(
            "web",
            [sys.executable, "-m", "gunicorn", "-c", "compose/gunicorn.conf.py", "obsportal.wsgi"],
            env,
        )
        wait_http(f"http://127.0.0.1:{port}/readyz", web, log)
        obs = Observability("http-trace-agent", tmp_path / "agent.jsonl", ship=False)
        steps = agent_steps(receiver.endpoint, obs, 2)
        obs.shutdown(timeout=5)
        events = _journal(tmp_path / "agent.jsonl")
        verdict = post_batch(f"http://127.0.0.1:{port}", token, events)
        assert verdict["admitted"] == 2, verdict

        ingest = receiver.wait_for(
            lambda s, span: s == "obsportal-web" and span.name == INGEST_SPAN
        )
        assert linked_ids(ingest[0][1]) == set(steps)
        request = receiver.wait_for(lambda s, span: span.span_id == ingest[0][1].parent_span_id)[0][
            1
        ]
        assert request.name.startswith("POST")
        status = attribute(request, "http.response.status_code") or attribute(
            request, "http.status_code"
        )
        assert status == 200, request
        # /metrics scrapes are not traced.
        assert not [s for _, s in receiver.spans if "metrics" in s.name]


def _journal(path):
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
