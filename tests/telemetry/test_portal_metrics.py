"""The portal's /metrics: the pipeline's counters from the ingest edge, state read at scrape
time from PostgreSQL and Redis, and the links from portal pages to Grafana and Jaeger."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
import redis
from django.conf import settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from obsportal.integrity.collectors import CheckpointAgeCollector, latest_checkpoint_time
from obsportal.telemetry.collectors import QueueDepthCollector
from tests.factories import journal_events, tampered, with_role

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def post(client, token: str, events) -> dict:
    response = client.post(
        "/api/v1/ingest",
        {"events": events},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return response.json()


@pytest.fixture
def client():
    from rest_framework.test import APIClient

    return APIClient()


def test_http_ingest_is_counted_by_agent_result_verdict_and_reason(client, agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=5)
    events[3] = tampered(events[3], result="denied")  # refused whole: bad hash
    before = {
        "success": sample("obsportal_ingest_events_total", agent_id=agent, result="success"),
        "accepted": sample("obsportal_ingest_batches_total", status="accepted"),
        "rejected": sample("obsportal_ingest_batches_total", status="rejected"),
        "bad_hash": sample("obsportal_ingest_rejected_total", reason="bad_hash"),
        "duplicates": sample("obsportal_ingest_duplicates_total"),
        "lag": sample("obsportal_ingest_lag_seconds_count"),
        "batches": sample("obsportal_ingest_batch_duration_seconds_count"),
    }

    assert post(client, token, events)["reason_code"] == "bad_hash"
    good = journal_events(tmp_path, agent, count=3, name="good.jsonl")
    assert post(client, token, good[:2])["admitted"] == 2
    replay = post(client, token, good)
    assert (replay["admitted"], replay["duplicates"]) == (1, 2)

    def delta(key: str, name: str, **labels: str) -> float:
        return sample(name, **labels) - before[key]

    assert delta("success", "obsportal_ingest_events_total", agent_id=agent, result="success") == 3
    assert delta("accepted", "obsportal_ingest_batches_total", status="accepted") == 2
    assert delta("rejected", "obsportal_ingest_batches_total", status="rejected") == 1
    assert delta("bad_hash", "obsportal_ingest_rejected_total", reason="bad_hash") == 5
    assert delta("duplicates", "obsportal_ingest_duplicates_total") == 2
    assert delta("lag", "obsportal_ingest_lag_seconds_count") == 3
    assert delta("batches", "obsportal_ingest_batch_duration_seconds_count") == 3

    metrics = scrape(client)
    assert metrics[("obsportal_streams", (("status", "ok"),))] == 1
    assert metrics[("obsportal_streams", (("status", "forked"),))] == 0
    key = ("obsportal_ingest_events_total", (("agent_id", agent), ("result", "success")))
    assert metrics[key] == sample("obsportal_ingest_events_total", agent_id=agent, result="success")
    # django-prometheus: requests and database queries.
    assert any(name == "django_http_requests_latency_seconds_by_view_method_count"
               for name, _ in metrics)  # fmt: skip
    assert any(name == "django_db_execute_total" for name, _ in metrics)


def test_streams_gauge_counts_each_status(client):
    from obsportal.ingest.models import Stream

    Stream.objects.create(id="s-ok", agent_id="a")
    Stream.objects.create(id="s-forked", agent_id="a", status=Stream.Status.FORKED)
    Stream.objects.create(id="s-forked-2", agent_id="b", status=Stream.Status.FORKED)
    metrics = scrape(client)
    streams = {
        labels[0][1]: v for (name, labels), v in metrics.items() if name == "obsportal_streams"
    }
    assert streams == {"ok": 1, "forked": 2, "broken": 0, "stalled": 0}


def test_queue_depth_is_read_from_the_broker():
    queue = f"telemetry-test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.rpush(queue, "m1", "m2", "m3")
    try:
        families = list(
            QueueDepthCollector(settings.CELERY_BROKER_URL, (queue, "absent")).collect()
        )
    finally:
        client.delete(queue)
    depths = {s.labels["queue"]: s.value for s in families[0].samples}
    assert depths == {queue: 3, "absent": 0}


def test_queue_depth_is_absent_when_the_broker_is_down():
    dead = "redis://127.0.0.1:1/0"
    assert list(QueueDepthCollector(dead, ("ingest",)).collect()) == []


def test_checkpoint_age_is_absent_without_a_checkpoint():
    assert latest_checkpoint_time() is None
    assert list(CheckpointAgeCollector().collect()) == []


def test_event_list_links_to_the_trace_and_the_agent_dashboard(
    client, django_user_model, agent_token, tmp_path, settings
):
    from obsportal.ingest.services import admit_batch
    from tests.factories import JournalWriter, read_journal

    settings.GRAFANA_URL = "https://grafana.example.org/"
    settings.JAEGER_URL = "https://jaeger.example.org"
    agent, token = agent_token
    path = tmp_path / "traced.jsonl"
    with JournalWriter(path, agent) as journal:
        journal.append("llm_call", "success", trace_id="ab" * 16, span_id="cd" * 8)
        journal.append("tool_execute", "success")
    events = read_journal(path)
    assert admit_batch({"token": token, "events": events}).admitted == 2
    client.force_login(
        with_role(django_user_model.objects.create_user("officer", password="pw-123456"))
    )

    page = client.get("/events/").content.decode()

    assert page.count('href="https://jaeger.example.org/trace/' + "ab" * 16 + '"') == 1
    # The event's own page links to its span and to the agent's dashboard around it.
    page = client.get(f"/events/{events[0]['event_id']}/").content.decode()
    assert page.count('href="https://jaeger.example.org/trace/' + "ab" * 16 + '"') == 1
    links = re.findall(
        r'href="https://grafana\.example\.org/d/obsportal-agents\?from=(\d+)&amp;to=(\d+)&amp;'
        r'var-agent=([^"]+)"',
        page,
    )
    assert len(links) == 1
    ts = datetime.fromisoformat(events[0]["ts"].replace("Z", "+00:00")).astimezone(UTC)
    start_ms, end_ms, linked_agent = links[0]
    assert linked_agent == agent
    assert int(end_ms) - int(start_ms) == 30 * 60 * 1000
    assert abs(int(start_ms) + 15 * 60 * 1000 - ts.timestamp() * 1000) <= 1


def test_checkpoint_age_and_verification_results_are_read_from_the_integrity_tables(
    client, agent_token, tmp_path, signing_key
):
    from obsportal.ingest.services import admit_batch
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.models import StreamVerification
    from obsportal.integrity.verification import verify_streams

    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    admit_batch({"token": token, "events": events})
    sign_checkpoint()
    verify_streams(trigger="test")
    second = verify_streams(trigger="test")
    # A run that found a broken stream (as verification stores it).
    # (The agent's stream: the first run's result is on the portal's trail stream too.)
    StreamVerification.objects.filter(run=second, stream_id=events[0]["stream"]).update(
        status="broken"
    )

    metrics = scrape(client)

    assert 0 <= metrics[("obsportal_checkpoint_age_seconds", ())] < 60
    interval = settings.CELERY_BEAT_SCHEDULE["sign-checkpoint"]["schedule"]
    assert metrics[("obsportal_checkpoint_interval_seconds", ())] == interval
    runs = {
        labels[0][1]: v for (name, labels), v in metrics.items()
        if name == "obsportal_verification_runs_total"
    }  # fmt: skip
    assert runs == {"verified": 2, "problems": 0, "failed": 0}
    assert metrics[("obsportal_chain_breaks_total", ())] == 1
