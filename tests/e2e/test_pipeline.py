"""From an agent to the portal: SDK -> journal -> shipper -> Redis -> worker -> PostgreSQL."""

from __future__ import annotations

import pytest
from django.conf import settings

from agents_sdk import CeleryTransport, Observability, Shipper
from agents_sdk.shipping import wire
from agents_sdk.shipping.transports import INGEST_QUEUE, INGEST_TASK
from obsportal.ingest.envelope import as_envelope
from obsportal.ingest.models import AuditEvent, RejectedBatch
from tests.factories import journal_events, tampered
from tests.independent_chain import read_journal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_sdk_event_arrives_in_postgres_identical_and_is_returned_by_the_api(
    agent_token, api_client, tmp_path
):
    agent, token = agent_token
    path = tmp_path / "agent.jsonl"
    obs = Observability(agent, path, broker_url=settings.CELERY_BROKER_URL, ingest_token=token)
    obs.record_audit("llm_call", details={"model": "m-1", "cost_usd": 0.0042})
    obs.record_audit(
        "tool_execute",
        "denied",
        user_id="alice",
        resource="crm://7",
        personal_data={"email": "alice@example.com"},
    )
    assert obs.shutdown(timeout=30), obs.shipper.last_error
    journal = read_journal(path)

    stored = [as_envelope(e) for e in AuditEvent.objects.filter(agent_id=agent).order_by("seq")]
    assert stored == [{k: v for k, v in e.items() if k != "pii"} for e in journal]
    sidecar = AuditEvent.objects.get(agent_id=agent, seq=1).personal_data.get()
    assert (sidecar.field, sidecar.value) == ("email", "alice@example.com")

    listed = api_client.get("/api/v1/events/?agent_id=agent-7").json()["results"]
    assert {e["hash"] for e in listed} == {e["hash"] for e in journal}


def test_the_worker_admits_each_wire_form_an_agent_of_this_or_an_earlier_sdk_sends(
    agent_token, tmp_path
):
    """Today's serializer (zstd inside it), plain JSON (`plain_json=True`), and the earlier
    SDK's `agents-sdk-json` with kombu's zstd beside it: one journal in turns, stored as written."""
    from obsportal.celery import app

    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=9)
    path = tmp_path / "agent.jsonl"
    current = CeleryTransport(settings.CELERY_BROKER_URL, token=token)
    assert current._serializer == wire.SERIALIZER
    for transport in (
        current,
        CeleryTransport(settings.CELERY_BROKER_URL, token=token, plain_json=True),
    ):
        shipper = Shipper(path, transport, batch_size=3)
        assert shipper.ship_once() == 3, shipper.last_error
        transport.close()
    # What the earlier SDK's CeleryTransport.submit sent for the last three events.
    shipper = Shipper(path, CeleryTransport(settings.CELERY_BROKER_URL, token=token), batch_size=3)
    batch = shipper.read_batch()
    message = {"token": token, "lines": batch.jsonl()}
    if batch.head is not None:
        message["heads"] = [batch.head]
    verdict = app.send_task(
        INGEST_TASK,
        args=[message],
        queue=INGEST_QUEUE,
        serializer=wire.JSON_SERIALIZER,
        compression="zstd",
    ).get(timeout=30)
    shipper.transport.close()
    assert (verdict["status"], verdict["admitted"]) == ("accepted", 3), verdict
    stored = [as_envelope(e) for e in AuditEvent.objects.filter(agent_id=agent).order_by("seq")]
    assert stored == [{k: v for k, v in e.items() if k != "pii"} for e in events]
    assert not RejectedBatch.objects.exists()


def test_worker_refuses_malformed_batches_and_keeps_ingesting(agent_token, tmp_path):
    from obsportal.celery import app

    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    missing = {k: v for k, v in events[0].items() if k != "hash"}
    bad = [
        {"token": token, "events": [missing]},
        {"token": token, "events": [tampered(events[0], result="success", action="forged")]},
        {"token": token, "events": "not a list"},
    ]
    verdicts = [
        app.send_task(INGEST_TASK, args=[batch], queue=INGEST_QUEUE).get(timeout=30)
        for batch in bad
    ]
    assert [v["reason_code"] for v in verdicts] == ["invalid_event", "bad_hash", "malformed"]
    assert "field 'hash' is missing" in verdicts[0]["reason"]

    transport = CeleryTransport(settings.CELERY_BROKER_URL, token=token)
    good = transport.send(events)
    transport.close()
    assert good["admitted"] == 2
    assert AuditEvent.objects.filter(agent_id=agent).count() == 2
    assert RejectedBatch.objects.count() == 3


def test_shipper_resumes_after_a_restart_without_loss_or_duplicates(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=10)
    path = tmp_path / "agent.jsonl"

    first = Shipper(path, CeleryTransport(settings.CELERY_BROKER_URL, token=token), batch_size=4)
    assert first.ship_once() == 4
    first.transport.close()  # the agent process stops here

    second = Shipper(path, CeleryTransport(settings.CELERY_BROKER_URL, token=token), batch_size=4)
    assert second.cursor.seq == 3
    assert second.drain(deadline=None)
    second.transport.close()
    assert second.shipped_events == 6
    assert list(
        AuditEvent.objects.filter(agent_id=agent).order_by("seq").values_list("hash", flat=True)
    ) == [e["hash"] for e in events]


def test_facade_ships_over_http_when_given_the_portal_url(agent_token, live_server, tmp_path):
    agent, token = agent_token
    path = tmp_path / "agent.jsonl"
    obs = Observability(agent, path, ingest_url=live_server.url, ingest_token=token)
    obs.record_audit("data_access", "denied", user_id="bob", resource="ehr://7")
    obs.record_audit("data_access", "success", user_id="bob", resource="ehr://8")
    assert obs.shutdown(timeout=30), obs.shipper.last_error
    assert list(
        AuditEvent.objects.filter(agent_id=agent).order_by("seq").values_list("hash", flat=True)
    ) == [e["hash"] for e in read_journal(path)]


def test_facade_refuses_an_ingest_url_without_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENTS_SDK_INGEST_TOKEN", raising=False)
    with pytest.raises(ValueError, match="ingest_url needs ingest_token"):
        Observability("agent-7", tmp_path / "a.jsonl", ingest_url="http://127.0.0.1:1")
