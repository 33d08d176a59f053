"""Admission of agent-signed heads: verified, the key pinned on first use, the pin held."""

from __future__ import annotations

import base64
import copy

import pytest

from agents_sdk.audit.head_signing import HeadSigner, key_path
from obsportal.ingest.heads import KeyChangeRefused, retire_agent_key
from obsportal.ingest.models import AgentKey, AuditEvent, SignedStreamHead
from obsportal.ingest.services import admit_batch
from obsportal.trail.services import flush_trail
from tests.factories import journal_events
from tests.support.chains import signed_head

pytestmark = pytest.mark.django_db(transaction=True)


def trail_actions() -> list[str]:
    flush_trail()  # the trail's background copy is stored
    return list(
        AuditEvent.objects.filter(agent_id="obsportal")
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_the_first_signed_batch_pins_its_key_on_the_trail_and_keeps_the_head(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=4)
    head = signed_head(tmp_path / "agent.jsonl", events[-1])
    verdict = admit_batch({"token": token, "events": events, "heads": [head]})
    assert verdict.status == "accepted" and verdict.admitted == 4
    pin = AgentKey.objects.get()
    assert pin.agent_id == agent and pin.how == "first_use" and pin.retired_at is None
    assert "agent_key.pin" in trail_actions()
    stored = SignedStreamHead.objects.get(stream_id=events[0]["stream"])
    assert (stored.seq, stored.hash) == (3, events[-1]["hash"])
    # A resend of an older batch leaves the latest head in place.
    old = signed_head(tmp_path / "agent.jsonl", events[1])
    assert admit_batch({"token": token, "events": events[:2], "heads": [old]}).duplicates == 2
    assert SignedStreamHead.objects.get(stream_id=events[0]["stream"]).seq == 3


def test_a_batch_signed_with_another_key_is_refused_with_the_pinned_fingerprint(
    agent_token, tmp_path
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=4)
    first = signed_head(tmp_path / "agent.jsonl", events[1])
    assert admit_batch({"token": token, "events": events[:2], "heads": [first]}).admitted == 2
    pinned = AgentKey.objects.get().fingerprint
    other = HeadSigner.from_seed(b"\x01" * 32)
    head = other.sign(agent, events[3]["stream"], 3, events[3]["hash"]).as_wire()
    verdict = admit_batch({"token": token, "events": events[2:], "heads": [head]})
    assert (verdict.status, verdict.reason_code) == ("rejected", "agent_key_mismatch")
    assert other.fingerprint in verdict.reason and pinned in verdict.reason
    assert AuditEvent.objects.filter(agent_id=agent).count() == 2


def test_an_unsigned_batch_after_the_pin_is_refused(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3)
    head = signed_head(tmp_path / "agent.jsonl", events[0])
    admit_batch({"token": token, "events": events[:1], "heads": [head]})
    verdict = admit_batch({"token": token, "events": events[1:]})
    assert verdict.reason_code == "unsigned_batch"
    assert "pinned, so every batch must carry its signed stream head" in verdict.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.update(sig=_flipped(h["sig"])), "does not verify"),
        (lambda h: h.update(seq=1), "does not verify"),
        (lambda h: h.update(v=2), "version 2 is not supported"),
        (lambda h: h.pop("key"), "needs stream, seq, hash, key, sig"),
    ],
)
def test_a_wrong_signature_is_refused_before_anything_is_stored(
    agent_token, tmp_path, change, reason
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3)
    head = copy.deepcopy(signed_head(tmp_path / "agent.jsonl", events[-1]))
    change(head)
    verdict = admit_batch({"token": token, "events": events, "heads": [head]})
    assert verdict.reason_code == "bad_signature", verdict
    assert reason in verdict.reason
    assert not AgentKey.objects.exists()
    assert not AuditEvent.objects.filter(agent_id=agent).exists()


def _flipped(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def test_a_head_over_an_event_outside_the_batch_is_refused(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3)
    head = signed_head(tmp_path / "agent.jsonl", events[-1])
    verdict = admit_batch({"token": token, "events": events[:2], "heads": [head]})
    assert verdict.reason_code == "bad_signature"
    assert "names no event of this batch" in verdict.reason


def test_a_head_signed_for_another_agent_does_not_verify(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    signer = HeadSigner.from_seed(b"\x02" * 32)
    head = signer.sign("agent-8", events[-1]["stream"], 1, events[-1]["hash"]).as_wire()
    verdict = admit_batch({"token": token, "events": events, "heads": [head]})
    assert verdict.reason_code == "bad_signature"


def test_old_journals_ship_unsigned_until_their_first_signed_batch(agent_token, tmp_path, settings):
    """The upgrade path: a credential without a pin takes unsigned batches (legacy journals);
    OBSPORTAL_REQUIRE_SIGNED_HEADS refuses them."""
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3)
    assert admit_batch({"token": token, "events": events[:1]}).admitted == 1
    settings.OBSPORTAL_REQUIRE_SIGNED_HEADS = True
    refused = admit_batch({"token": token, "events": events[1:2]})
    assert refused.reason_code == "unsigned_batch"
    assert "OBSPORTAL_REQUIRE_SIGNED_HEADS" in refused.reason
    settings.OBSPORTAL_REQUIRE_SIGNED_HEADS = False
    head = signed_head(tmp_path / "agent.jsonl", events[2])
    assert admit_batch({"token": token, "events": events[1:], "heads": [head]}).admitted == 2
    assert AgentKey.objects.filter(agent_id=agent).count() == 1


def test_an_administrator_retires_a_pin_on_the_trail_and_the_next_key_is_pinned(
    agent_token, tmp_path
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    admit_batch(
        {
            "token": token,
            "events": events[:1],
            "heads": [signed_head(tmp_path / "agent.jsonl", events[0])],
        }
    )
    pin = AgentKey.objects.get()
    with pytest.raises(KeyChangeRefused, match="needs a reason"):
        retire_agent_key(pin.credential_id, "admin", " ")
    retire_agent_key(pin.credential_id, "admin", "key lost with the host; journal restored")
    assert "agent_key.retire" in trail_actions()
    # The journal's key was lost: a new one signs from here on.
    key_path(tmp_path / "agent.jsonl").unlink()
    new = HeadSigner.from_seed(b"\x03" * 32)
    head = new.sign(agent, events[1]["stream"], 1, events[1]["hash"]).as_wire()
    assert admit_batch({"token": token, "events": events[1:], "heads": [head]}).admitted == 1
    assert AgentKey.objects.get(retired_at__isnull=True).fingerprint == new.fingerprint
    assert AgentKey.objects.count() == 2
