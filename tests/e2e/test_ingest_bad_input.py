"""Bad batches through the real worker: each refused with its reason, nothing stored, and the
worker goes on admitting good batches."""

from __future__ import annotations

import pytest

from agents_sdk.audit.chain import compute_hash, hashed_body
from agents_sdk.shipping.transports import INGEST_QUEUE, INGEST_TASK
from obsportal.ingest.models import AuditEvent, IntegrityIncident, RejectedBatch
from tests.factories import journal_events, tampered

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def send(batch):
    from obsportal.celery import app

    return app.send_task(INGEST_TASK, args=[batch], queue=INGEST_QUEUE).get(timeout=30)


def test_worker_refuses_each_kind_of_bad_batch_stores_nothing_and_keeps_running(
    agent_token, tmp_path
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3)
    assert send({"token": token, "events": events[:2]})["admitted"] == 2
    strangers = journal_events(tmp_path, "someone-else", count=1, name="other.jsonl")
    fork = tampered(events[1], action="rewritten")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    cases = [
        ({"token": "agt_wrong", "events": events[2:]}, "bad_token"),
        ({"token": token, "events": strangers}, "wrong_agent"),
        ({"token": token, "events": "not a list"}, "malformed"),
        ({"token": token, "events": [tampered(events[2], result="denied")]}, "bad_hash"),
        ({"token": token, "events": [fork, events[2]]}, "fork"),
        ({"token": token, "events": [events[2]] * 5001}, "oversized"),
    ]
    for batch, code in cases:
        verdict = send(batch)
        assert (verdict["status"], verdict["reason_code"]) == ("rejected", code)
        assert verdict["reason"]
    assert AuditEvent.objects.filter(agent_id=agent).count() == 2  # the fork is on the trail
    assert IntegrityIncident.objects.get().offered_hash == fork["hash"]
    assert [r.reason_code for r in RejectedBatch.objects.order_by("id")] == [c for _, c in cases]

    assert send({"token": token, "events": events})["admitted"] == 1  # still admitting
    assert AuditEvent.objects.filter(agent_id=agent).count() == 3
