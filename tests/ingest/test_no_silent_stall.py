"""No silent stall: a batch whose admission fails ends in a verdict, a dead letter, a
metric and a marked stream; verification never calls a stream with waiting events verified."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from obsportal.ingest import storage
from obsportal.ingest.models import RejectedBatch, Stream
from obsportal.ingest.services import admit_batch
from obsportal.ingest.tasks import ingest_batch
from tests.factories import journal_events

pytestmark = pytest.mark.django_db(transaction=True)


def rejected(code: str) -> float:
    return REGISTRY.get_sample_value("obsportal_ingest_rejected_total", {"reason": code}) or 0.0


@pytest.fixture
def failing_storage(monkeypatch):
    """A storage failure that is not the database's (a bug): it would fail on every resend."""

    def broken(events, canonicals=None):
        raise TypeError("Integer exceeds 64-bit range")

    monkeypatch.setattr(storage, "store_events", broken)


def test_a_failing_admission_through_the_task_is_dead_lettered_counted_and_marked(
    agent_token, tmp_path, failing_storage
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    assert admit_batch({"token": token, "events": events[1:]}).pending == 1
    before = rejected("admission_failed")
    verdict = ingest_batch.apply(args=[{"token": token, "events": events[:1]}]).get()
    assert verdict["status"] == "rejected" and verdict["reason_code"] == "admission_failed"
    assert "TypeError: Integer exceeds 64-bit range" in verdict["reason"]
    stream = events[0]["stream"]
    assert f"streams marked stalled: {stream}" in verdict["reason"]
    letter = RejectedBatch.objects.get(reason_code="admission_failed")
    assert letter.agent_id == agent and letter.event_count == 1
    assert Stream.objects.get(pk=stream).status == "stalled"
    assert rejected("admission_failed") == before + 1


def test_verification_reports_waiting_events_and_a_stalled_stream(
    agent_token, tmp_path, signing_key, api_client
):
    from obsportal.integrity.verification import verify_streams

    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=5)
    assert admit_batch({"token": token, "events": events[:2] + events[3:]}).pending == 2
    stream = events[0]["stream"]
    run = verify_streams()
    result = run.streams.get(stream_id=stream)
    assert run.status == "problems" and result.status == "incomplete"
    assert result.first_break["reason"] == (
        "2 event(s) from seq 3 on wait, not admitted: seq 2 never arrived"
    )
    listed = api_client.get(f"/api/v1/streams/{stream}/").json()
    assert listed["pending_count"] == 2
    assert listed["last_verification"]["status"] == "incomplete"
    Stream.objects.filter(pk=stream).update(status="stalled")
    reasons = [b["reason"] for b in verify_streams().streams.get(stream_id=stream).breaks]
    assert any(r.startswith("a batch of this stream could not be admitted") for r in reasons)
