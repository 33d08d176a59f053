"""Agent-signed heads end to end, through a real Celery worker and over HTTP: the agent
sees a refusal's reason in `shipping_status()`."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from agents_sdk import Observability
from agents_sdk.audit.head_signing import key_path, load_key
from obsportal.ingest.models import AgentKey, AuditEvent, SignedStreamHead
from obsportal.integrity.verification import verify_streams

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def wait_for_refusal(obs: Observability, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = obs.shipping_status()
        if status.last_refusal is not None:
            return status
        time.sleep(0.1)
    raise AssertionError(f"no refusal within {timeout} s: {obs.shipping_status()}")


@pytest.mark.parametrize("transport", ["celery", "http"])
def test_signed_batches_pin_the_key_and_another_key_is_refused_with_a_reason_the_agent_sees(
    agent_token, tmp_path, live_server, signing_key, transport
):
    agent, token = agent_token
    where = (
        {"broker_url": settings.CELERY_BROKER_URL}
        if transport == "celery"
        else {"ingest_url": live_server.url}
    )
    first = tmp_path / "first.jsonl"
    obs = Observability(agent, first, ingest_token=token, **where)
    for i in range(5):
        obs.record_audit("tool_execute", details={"i": i})
    status = obs.shipping_status()
    assert status.agent_key == load_key(first).fingerprint
    assert obs.shutdown(timeout=30), obs.shipper.last_error
    assert key_path(first).stat().st_mode & 0o777 == 0o600
    stream = AuditEvent.objects.filter(agent_id=agent).values_list("stream_id", flat=True)[0]
    head = SignedStreamHead.objects.get(stream_id=stream)
    assert head.seq == 4
    pin = AgentKey.objects.get(agent_id=agent)
    assert pin.fingerprint == status.agent_key

    # A second journal with its own key under the same credential: refused, and said so.
    second = tmp_path / "second.jsonl"
    other = Observability(agent, second, ingest_token=token, **where)
    other.record_audit("tool_execute")
    refused = wait_for_refusal(other)
    other.shutdown(timeout=2)
    assert refused.last_refusal.code == "agent_key_mismatch"
    assert pin.fingerprint in refused.last_refusal.reason
    assert refused.held
    assert AuditEvent.objects.filter(agent_id=agent).count() == 5

    run = verify_streams()
    result = run.streams.get(stream_id=stream)
    assert result.status == "verified" and result.agent_head["status"] == "signed"


def test_a_journal_that_predates_keys_gets_one_and_its_first_signed_head_covers_the_past(
    agent_token, tmp_path, signing_key
):
    """The upgrade path end to end: events shipped unsigned, then the key is created on
    reopen and the next batch's signed head vouches for the whole chain."""
    from agents_sdk import CeleryTransport, Shipper
    from agents_sdk.audit.journal import JournalWriter

    agent, token = agent_token
    path = tmp_path / "old.jsonl"
    with JournalWriter(path, agent, head_key=False) as journal:  # as an old SDK wrote it
        for i in range(3):
            journal.append("tool_execute", details={"i": i})
    old = Shipper(path, CeleryTransport(settings.CELERY_BROKER_URL, token=token))
    assert old.signer is None and old.drain(deadline=time.monotonic() + 30)
    old.transport.close()
    assert not AgentKey.objects.exists()

    with JournalWriter(path, agent) as journal:  # the upgraded SDK reopens it
        assert journal.key_created and journal.key_upgraded
        journal.append("tool_execute", details={"i": 3})
    new = Shipper(path, CeleryTransport(settings.CELERY_BROKER_URL, token=token))
    assert new.drain(deadline=time.monotonic() + 30), new.last_error
    new.transport.close()
    stream = AuditEvent.objects.filter(agent_id=agent).values_list("stream_id", flat=True)[0]
    assert SignedStreamHead.objects.get(stream_id=stream).seq == 3
    assert AgentKey.objects.get().fingerprint == load_key(path).fingerprint
    result = verify_streams().streams.get(stream_id=stream)
    assert result.status == "verified" and result.agent_head["status"] == "signed"
