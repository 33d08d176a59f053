"""A PostgreSQL superuser cannot fabricate, extend, truncate or rewrite an agent's stream
without the agent's key: verification holds every stream to its latest agent-signed head.

Each attack is done as issue 10 item 4 describes it, thoroughly: the rows, their hashes
and links and the stream's recorded head all made consistent, and a checkpoint signed
over the result afterwards (so only the agent's signature can expose it).
"""

from __future__ import annotations

import pytest

from agents_sdk.audit.chain import GENESIS_HASH, compute_hash, hashed_body
from agents_sdk.audit.head_signing import HeadSigner
from obsportal.ingest.models import SignedStreamHead
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.verification import verify_streams
from tests.integrity.test_tampering import _insert_event, result_for, rewritten_consistently
from tests.support.chains import superuser_sql

pytestmark = pytest.mark.usefixtures("signed_chains")

SET_HEAD = "UPDATE ingest_stream SET head_seq = %s, head_hash = %s WHERE id = %s"


def made_up_chain(template: dict, stream: str, count: int) -> list[dict]:
    prev, events = GENESIS_HASH, []
    for seq in range(count):
        event = {k: v for k, v in template.items() if k != "pii"}
        event.update(
            stream=stream,
            seq=seq,
            event_id=f"01900000-0000-7000-8000-00000000020{seq}",
            prev_hash=prev,
            action="permission_grant",
        )
        event["hash"] = prev = compute_hash(hashed_body(event), prev)
        events.append(event)
    return events


def insert_stream(events: list[dict]) -> list[tuple[str, tuple]]:
    """The stream's record and its rows, as ingestion would have left them."""
    last = events[-1]
    return [
        (
            "INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, "
            "pending_count, created_at, updated_at) VALUES (%s, %s, %s, %s, 'ok', 0, now(), now())",
            (last["stream"], last["agent_id"], last["seq"], last["hash"]),
        ),
        *(_insert_event(event) for event in events),
    ]


def test_untouched_signed_chains_verify_against_their_agent_heads(signed_chains):
    run = verify_streams()
    assert run.status == "verified", [(r.stream_id, r.first_break) for r in run.streams.all()]
    for name in ("a", "b"):
        result = result_for(run, signed_chains[name][0]["stream"])
        assert result.agent_head["status"] == "signed"
        assert (result.agent_head["seq"], result.verified_to) == (9, 9)
        assert result.agent_head["fingerprint"].startswith("sha256:")


def test_a_made_up_stream_with_its_record_is_detected(signed_chains):
    """Record plus a consistent chain, signed by the next checkpoint: no agent signed it."""
    events = made_up_chain(signed_chains["a"][0], "agent-7.made-up", 3)
    superuser_sql(*insert_stream(events))
    sign_checkpoint()  # the portal's checkpoint now vouches for it too

    run = verify_streams()
    result = result_for(run, "agent-7.made-up")
    assert run.status == "problems" and result.status == "broken"
    assert result.agent_head["status"] == "unsigned"
    assert result.first_break["seq"] == 0
    assert "no agent-signed head for this stream" in result.first_break["reason"]
    assert "key sha256:" in result.first_break["reason"]
    assert result.verified_to is None


def test_a_made_up_stream_signed_with_the_operators_own_key_is_detected(signed_chains):
    events = made_up_chain(signed_chains["a"][0], "agent-7.made-up", 3)
    forger = HeadSigner.from_seed(b"\x07" * 32)
    head = forger.sign("agent-7", events[-1]["stream"], 2, events[-1]["hash"])
    superuser_sql(
        *insert_stream(events),
        (
            "INSERT INTO ingest_signedstreamhead VALUES (%s, %s, %s, %s, %s, now())",
            ("agent-7.made-up", 2, head.hash, head.public_key.hex(), head.signature.hex()),
        ),
    )
    result = result_for(verify_streams(), "agent-7.made-up")
    assert result.status == "broken" and result.agent_head["status"] == "invalid"
    assert "never pinned to a credential of agent agent-7" in result.first_break["reason"]

    # A pin row for the forger's key as well: the portal's trail has no record of it.
    superuser_sql(
        (
            "INSERT INTO ingest_agentkey (credential_id, agent_id, public_key, fingerprint, how,"
            " pinned_at, retired_at, retired_by, retired_reason) SELECT id, agent_id, %s, %s,"
            " 'first_use', now(), now(), '', '' FROM accounts_agentcredential"
            " WHERE agent_id = 'agent-7'",
            (head.public_key.hex(), forger.fingerprint),
        )
    )
    result = result_for(verify_streams(), "agent-7.made-up")
    assert result.status == "broken"
    assert "the portal's trail records no such pin" in result.first_break["reason"]


def test_a_forged_unsigned_tail_appended_with_its_head_record_is_located(signed_chains):
    last = signed_chains["a"][-1]
    tail, prev = [], last["hash"]
    for seq in (10, 11):
        forged = {k: v for k, v in last.items() if k != "pii"}
        forged.update(
            seq=seq,
            event_id=f"01900000-0000-7000-8000-00000000030{seq - 10}",
            prev_hash=prev,
            action="permission_grant",
        )
        forged["hash"] = prev = compute_hash(hashed_body(forged), prev)
        tail.append(forged)
    superuser_sql(*(_insert_event(e) for e in tail), (SET_HEAD, (11, prev, last["stream"])))
    sign_checkpoint()

    result = result_for(verify_streams(), last["stream"])
    assert result.status == "broken" and result.agent_head["status"] == "extended"
    assert result.first_break["seq"] == 10
    assert "events seq 10..11 follow the agent's signed head (seq 9" in result.first_break["reason"]
    assert result.verified_to == 9  # what the agent signed still stands


def test_a_truncated_tail_is_located_below_the_signed_head(signed_chains):
    events = signed_chains["b"]
    stream = events[0]["stream"]
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq >= 7", (stream,)),
        (SET_HEAD, (6, events[6]["hash"], stream)),
    )
    sign_checkpoint()

    result = result_for(verify_streams(), stream)
    assert result.status == "broken" and result.agent_head["status"] == "truncated"
    assert result.first_break["seq"] == 7
    assert "seq 7..9 were removed (the tail was truncated)" in result.first_break["reason"]


def test_a_consistently_rewritten_tail_is_located_at_the_signed_head(signed_chains):
    events = signed_chains["a"]
    superuser_sql(
        *rewritten_consistently(events[8:], events[7]["hash"], "result = 'denied'", result="denied")
    )
    result = result_for(verify_streams(), events[0]["stream"])
    assert result.status == "broken" and result.agent_head["status"] == "rewritten"
    signed = [b for b in result.breaks if "its agent signed" in b["reason"]]
    assert signed and signed[0]["seq"] == 9
    assert "the chain was rewritten at or before seq 9" in signed[0]["reason"]


def test_an_altered_signed_head_row_does_not_verify(signed_chains):
    stream = signed_chains["a"][0]["stream"]
    SignedStreamHead.objects.filter(stream_id=stream).update(signature="00" * 64)
    result = result_for(verify_streams(), stream)
    assert result.status == "broken" and result.agent_head["status"] == "invalid"
    assert "does not verify" in result.first_break["reason"]


def test_a_deleted_signed_head_is_detected(signed_chains):
    stream = signed_chains["b"][0]["stream"]
    superuser_sql(("DELETE FROM ingest_signedstreamhead WHERE stream_id = %s", (stream,)))
    result = result_for(verify_streams(), stream)
    assert result.status == "broken" and result.agent_head["status"] == "unsigned"
