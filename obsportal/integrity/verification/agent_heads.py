"""Holding a walked stream to the latest head its agent signed (`SignedStreamHead`).

The agent's key never reaches the portal, so what an operator with psql does around
ingestion shows here, located:

- a stream with no signed head, of an agent whose key is pinned (or of no agent that
  holds a credential): made up around ingestion;
- stored events after the signed head: a tail the agent never signed (appended);
- a signed head beyond the last stored event: the tail was truncated (range given);
- a stored event at the signed seq with another hash: the chain was rewritten;
- a signed head that does not verify, with a key never pinned to the agent, or a pin
  row the portal's trail has no record of: signed head or pin put there around ingestion.

A stream of an agent that never had a key pinned is reported `unsigned (legacy)`, not
broken: its journal predates agent keys. The portal's own trail has no agent key.
"""

from __future__ import annotations

import orjson
from django.conf import settings

from agents_sdk.audit.head_signing import (
    InvalidHeadSignature,
    SignedHead,
    key_fingerprint,
    verify_head,
)
from obsportal.accounts.models import AgentCredential
from obsportal.ingest.models import AgentKey, AuditEvent, SignedStreamHead, Stream
from obsportal.integrity.verification.findings import StreamFindings


def signed_head_of(stream_id: str) -> SignedStreamHead | None:
    return SignedStreamHead.objects.filter(stream_id=stream_id).first()


def compare_with_agent_head(
    findings: StreamFindings,
    stream: Stream | None,
    agent_id: str | None,
    signed: SignedStreamHead | None,
    stored_hash: str | None,
) -> None:
    """Check the stream against its latest agent-signed head; set `findings.agent_head`.

    `signed` is read after the walk (so it covers at least what the walk saw);
    `stored_hash` is the walked hash at `signed.seq`, None when the walk did not reach it.
    """
    agent_id = agent_id or (stream.agent_id if stream else None)
    if agent_id == settings.OBSPORTAL_TRAIL_AGENT_ID:
        findings.agent_head = {"status": "portal", "reason": "the portal's own trail"}
        return
    if agent_id is None:
        return  # nothing stored and no record: reported missing already
    if signed is None:
        _unsigned(findings, agent_id, stream)
        return
    head = SignedHead(
        signed.stream_id,
        signed.seq,
        signed.hash,
        bytes.fromhex(signed.public_key),
        bytes.fromhex(signed.signature),
    )
    fingerprint = key_fingerprint(head.public_key)
    findings.agent_head = {
        "status": "signed",
        "seq": head.seq,
        "hash": head.hash,
        "fingerprint": fingerprint,
    }
    start = findings.first_seq if findings.first_seq is not None else 0
    problem = _key_problem(agent_id, head)
    if problem is None:
        try:
            verify_head(head, agent_id)
        except InvalidHeadSignature as exc:
            problem = f"the stored agent-signed head does not verify ({exc}): it was altered"
    if problem is not None:
        findings.agent_head["status"] = "invalid"
        findings.broke(head.seq, None, problem)
        _cap_verified(findings, start - 1)
        return
    last = findings.last_seq if findings.last_seq is not None else -1
    if head.seq > last:
        if _admitted_since(findings.stream_id, head):
            return  # admitted after the walk's snapshot: the walk just did not see it
        if stream is not None and stream.pending_count and stream.head_seq == last:
            return  # reported as waiting already: the signed events are received, not admitted
        findings.agent_head["status"] = "truncated"
        findings.broke(
            last + 1,
            None,
            f"the agent signed its head at seq {head.seq} ({head.hash[:12]}…, key "
            f"{fingerprint}), but the stored chain ends at seq {last}: seq {last + 1}.."
            f"{head.seq} were removed (the tail was truncated)",
        )
        return
    if stored_hash != head.hash:
        findings.agent_head["status"] = "rewritten"
        findings.broke(
            head.seq,
            None,
            f"the stored event at seq {head.seq} has hash {str(stored_hash)[:12]}…, but its "
            f"agent signed {head.hash[:12]}… (key {fingerprint}): the chain was rewritten at "
            f"or before seq {head.seq}",
        )
        _cap_verified(findings, -1)
    if last > head.seq:
        findings.agent_head["status"] = "extended"
        findings.broke(
            head.seq + 1,
            None,
            f"events seq {head.seq + 1}..{last} follow the agent's signed head (seq "
            f"{head.seq}, key {fingerprint}) and no agent signature covers them: appended "
            "around ingestion",
        )
        _cap_verified(findings, head.seq)


def _unsigned(findings: StreamFindings, agent_id: str, stream: Stream | None) -> None:
    if not AgentCredential.objects.filter(agent_id=agent_id).exists():
        findings.agent_head = {"status": "no_agent"}
        findings.broke(
            findings.first_seq or 0,
            None,
            f"agent {agent_id} holds no ingest credential and no agent signed this stream: "
            "it was made up around ingestion",
        )
        _cap_verified(findings, -1)
        return
    pinned = AgentKey.objects.filter(agent_id=agent_id).order_by("pinned_at").first()
    strict = settings.OBSPORTAL_REQUIRE_SIGNED_HEADS
    if not strict and (
        pinned is None or (stream is not None and stream.created_at < pinned.pinned_at)
    ):
        # The upgrade path: a stream shipped before its agent had a key pinned.
        findings.agent_head = {
            "status": "legacy",
            "reason": f"no agent-signed head: the stream predates agent {agent_id}'s pinned "
            "key (its journal predates agent-signed heads), so only the checkpoints vouch "
            "for it",
        }
        return
    if pinned is None:
        findings.agent_head = {"status": "unsigned"}
        findings.broke(
            findings.first_seq or 0,
            None,
            "no agent-signed head for this stream, and this portal requires one "
            "(OBSPORTAL_REQUIRE_SIGNED_HEADS)",
        )
        _cap_verified(findings, -1)
        return
    findings.agent_head = {"status": "unsigned"}
    findings.broke(
        findings.first_seq or 0,
        None,
        f"no agent-signed head for this stream, though agent {agent_id}'s key "
        f"{pinned.fingerprint} is pinned (since {pinned.pinned_at:%Y-%m-%d %H:%M}): the "
        "stream was made up around ingestion, or its signed head was deleted",
    )
    _cap_verified(findings, -1)


def _key_problem(agent_id: str, head: SignedHead) -> str | None:
    """Why the head's key is not one pinned to the agent (with its trail record), if not."""
    key_hex = head.public_key.hex()
    fingerprint = key_fingerprint(head.public_key)
    pins = list(AgentKey.objects.filter(agent_id=agent_id, public_key=key_hex))
    if not pins:
        return (
            f"the signed head is signed with key {fingerprint}, which was never pinned to "
            f"a credential of agent {agent_id}: signed head put there around ingestion"
        )
    recorded = _trail_pins(agent_id)
    if not any((pin.credential_id, key_hex) in recorded for pin in pins):
        return (
            f"key {fingerprint} is pinned to agent {agent_id}, but the portal's trail "
            "records no such pin: the pin row was put there around ingestion"
        )
    return None


def _trail_pins(agent_id: str) -> set[tuple[int, str]]:
    """(credential, public key hex) of every pin the trail recorded, from hashed bytes."""
    rows = AuditEvent.objects.filter(
        agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID, action="agent_key.pin"
    ).values_list("canonical", flat=True)
    found = set()
    for canonical in rows:
        if canonical is None:
            continue
        detail = orjson.loads(canonical)["details"]
        if detail.get("agent_id") == agent_id:
            found.add((detail.get("credential"), detail.get("public_key")))
    return found


def _admitted_since(stream_id: str, head: SignedHead) -> bool:
    return AuditEvent.objects.filter(stream_id=stream_id, seq=head.seq, hash=head.hash).exists()


def _cap_verified(findings: StreamFindings, upto: int) -> None:
    """Links that hold prove nothing past what the agent signed (-1: nothing)."""
    if findings.verified_to is not None:
        findings.verified_to = min(findings.verified_to, upto) if upto >= 0 else None
