"""From an agent step to its ingest: the worker's and the portal's ingest spans link to
the agent spans of the events they admit, as a real OTLP/gRPC receiver sees them."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import pytest

from agents_sdk import Observability
from tests.support.otlp_receiver import OtlpGrpcReceiver, ReceivedSpan
from tests.telemetry.conftest import (
    free_port,
    portal_env,
    post_batch,
    start_worker,
    wait_http,
    wait_worker_ready,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
INGEST_SPAN = "obsportal.ingest.admit_batch"


def wait_until(
    receiver: OtlpGrpcReceiver, predicate: Callable[[ReceivedSpan], bool], timeout: float = 30
) -> list[ReceivedSpan]:
    """The received spans that satisfy `predicate`, once there is at least one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [span for span in list(receiver.spans) if predicate(span)]
        if found:
            return found
        time.sleep(0.2)
    seen = sorted({(s.resource.get("service.name"), s.name) for s in receiver.spans})
    raise AssertionError(f"no matching span within {timeout} s; received: {seen}")


def service(span: ReceivedSpan) -> str:
    return span.resource.get("service.name", "")


def agent_steps(obs: Observability, count: int) -> list[tuple[str, str]]:
    """Agent steps through the SDK: each its own span and audit event with the span's ids."""
    ids = []
    for i in range(count):
        with obs.step("answer", details={"step": i}) as step:
            pass
        ids.append((step.trace_id, step.span_id))
    return ids


def traced_agent(agent: str, journal, receiver: OtlpGrpcReceiver, **options) -> Observability:
    return Observability(
        agent,
        journal,
        tracing=True,
        otlp_endpoint=receiver.endpoint,
        span_schedule_delay_millis=100,
        **options,
    )


def linked_ids(span: ReceivedSpan) -> set[tuple[str, str]]:
    return {(link.trace_id, link.span_id) for link in span.links}


def test_worker_ingest_span_links_to_the_agent_step_spans(
    processes, own_redis, test_database_url, tmp_path, monkeypatch
):
    from obsportal.accounts.services import issue_agent_token

    # Celery prefers CELERY_BROKER_URL from the environment over the broker_url given
    # to CeleryTransport: point it at this test's own Redis.
    monkeypatch.setenv("CELERY_BROKER_URL", own_redis)
    token = issue_agent_token("trace-agent")
    with OtlpGrpcReceiver() as receiver:
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
        obs = traced_agent(
            "trace-agent", tmp_path / "agent.jsonl", receiver,
            broker_url=own_redis, ingest_token=token,
        )  # fmt: skip
        steps = agent_steps(obs, 3)
        assert all(trace and span for trace, span in steps)
        assert obs.shutdown(timeout=30)

        agent_spans = wait_until(receiver, lambda s: service(s) == "trace-agent")
        assert {(s.trace_id, s.span_id) for s in agent_spans} == set(steps)
        ingest = wait_until(
            receiver,
            lambda s: service(s) == "obsportal-worker" and s.name == INGEST_SPAN
            and s.attributes.get("obsportal.ingest.admitted"),
        )  # fmt: skip
        assert set().union(*(linked_ids(span) for span in ingest)) == set(steps)
        span = ingest[0]
        assert span.attributes["obsportal.ingest.status"] == "accepted"
        # The ingest span runs inside the Celery task's span, and the statements under it.
        task = wait_until(receiver, lambda s: s.span_id == span.parent_span_id)[0]
        assert INGEST_SPAN in task.name  # run/<task name>
        statements = wait_until(
            receiver,
            lambda s: s.trace_id == span.trace_id and s.attributes.get("db.system") == "postgresql",
        )
        assert any("ingest_auditevent" in s.attributes.get("db.statement", "") for s in statements)


def test_portal_http_ingest_is_traced_with_links(processes, own_redis, test_database_url, tmp_path):
    from obsportal.accounts.services import issue_agent_token

    token = issue_agent_token("http-trace-agent")
    with OtlpGrpcReceiver() as receiver:
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
        journal = tmp_path / "agent.jsonl"
        obs = traced_agent("http-trace-agent", journal, receiver, ship=False)
        steps = agent_steps(obs, 2)
        obs.shutdown(timeout=5)
        events = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
        verdict = post_batch(f"http://127.0.0.1:{port}", token, events)
        assert verdict["admitted"] == 2, verdict

        ingest = wait_until(
            receiver, lambda s: service(s) == "obsportal-web" and s.name == INGEST_SPAN
        )
        assert linked_ids(ingest[0]) == set(steps)
        request = wait_until(receiver, lambda s: s.span_id == ingest[0].parent_span_id)[0]
        assert request.name.startswith("POST")
        status = request.attributes.get("http.response.status_code") or request.attributes.get(
            "http.status_code"
        )
        assert status == 200, request
        # /metrics scrapes and health checks are not traced.
        assert not [s for s in receiver.spans if "readyz" in s.name or "metrics" in s.name]
