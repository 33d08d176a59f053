"""Agent-signed stream heads at admission: checked, the agent's key pinned, the latest kept.

A shipper signs the head (stream, seq, hash) of each batch with its journal's key
(`agents_sdk.audit.head_signing`, format `obsportal/stream-head/v1`). Here:

- before any head is locked, each signed head must verify with the key it carries and
  name an event of the batch (its hash recomputed by decoding), one head per stream,
  every stream of a signed batch signed (`checked_heads`);
- under the admission transaction, the key must be the one pinned to the batch's
  credential. The first signed batch of a credential pins its key (trust on first use,
  on the portal's trail, in the same transaction); a different key later is refused
  (`agent_key_mismatch`) until an administrator retires the pin; an unsigned batch from a
  credential with a pinned key is refused (`unsigned_batch`). A credential with no pin
  still ships unsigned batches: the upgrade path of journals that predate keys
  (`OBSPORTAL_REQUIRE_SIGNED_HEADS` refuses those too);
- after admission, each stream's latest signed head is stored (`store_signed_heads`):
  verification holds the stored chain to it, so an operator with psql cannot extend,
  truncate, rewrite or make up a stream without the agent's key.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection

from agents_sdk.audit.head_signing import (
    InvalidHeadSignature,
    SignedHead,
    key_fingerprint,
    read_wire_head,
    verify_head,
)
from obsportal.ingest import signals
from obsportal.ingest.decoding import EventsByStream
from obsportal.ingest.models import AgentKey, SignedStreamHead
from obsportal.ingest.verdicts import BatchRefused, Reason

MAX_HEADS = 100


def checked_heads(batch: Any, agent_id: str, streams: EventsByStream) -> list[SignedHead]:
    """The batch's signed heads, each verified with the key it carries and naming an event
    of the batch; [] for an unsigned batch. Which key is allowed is decided later, under
    the lock (`pin_key`)."""
    raw = batch.get("heads") if isinstance(batch, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw or len(raw) > MAX_HEADS:
        raise BatchRefused(
            Reason.BAD_SIGNATURE,
            f"a batch's 'heads' must be a list of 1 to {MAX_HEADS} signed heads",
            agent_id,
        )
    heads: dict[str, SignedHead] = {}
    keys = set()
    for index, item in enumerate(raw):
        try:
            head = read_wire_head(item)
            verify_head(head, agent_id)
        except InvalidHeadSignature as exc:
            raise BatchRefused(
                Reason.BAD_SIGNATURE, f"signed head {index}: {exc}", agent_id
            ) from exc
        event = streams.get(head.stream, {}).get(head.seq)
        if event is None or event["hash"] != head.hash:
            raise BatchRefused(
                Reason.BAD_SIGNATURE,
                f"signed head {index} (stream {head.stream} seq {head.seq}) names no event "
                "of this batch: a head is signed over the batch's own last event",
                agent_id,
            )
        if head.stream in heads:
            raise BatchRefused(
                Reason.BAD_SIGNATURE, f"stream {head.stream} has two signed heads", agent_id
            )
        heads[head.stream] = head
        keys.add(head.public_key)
    unsigned = sorted(set(streams) - set(heads))
    if unsigned:
        raise BatchRefused(
            Reason.UNSIGNED_BATCH,
            f"stream {unsigned[0]} of this signed batch has no signed head",
            agent_id,
        )
    if len(keys) > 1:
        raise BatchRefused(
            Reason.AGENT_KEY_MISMATCH,
            "the heads of one batch are signed with different keys; a credential has one key",
            agent_id,
        )
    return list(heads.values())


def pin_key(credential: int, agent_id: str, heads: list[SignedHead]) -> None:
    """Hold the batch to the credential's pinned key, pinning it on first use (in the
    admission transaction, so a refused batch pins nothing)."""
    pinned = (
        AgentKey.objects.select_for_update()
        .filter(credential_id=credential, retired_at__isnull=True)
        .values_list("public_key", "fingerprint")
        .first()
    )
    if not heads:
        if pinned is not None:
            raise BatchRefused(
                Reason.UNSIGNED_BATCH,
                f"this credential's agent key {pinned[1]} is pinned, so every batch must carry "
                "its signed stream head; this one carries none (a journal without its "
                "<journal>.key, or a shipper that predates signing)",
                agent_id,
            )
        if settings.OBSPORTAL_REQUIRE_SIGNED_HEADS:
            raise BatchRefused(
                Reason.UNSIGNED_BATCH,
                "this portal takes only batches with an agent-signed stream head "
                "(OBSPORTAL_REQUIRE_SIGNED_HEADS); this one carries none",
                agent_id,
            )
        return
    offered = heads[0].public_key
    if pinned is None:
        key = _pin_first_use(credential, agent_id, offered)
        if key is not None:
            signals.agent_key_pinned.send(sender=AgentKey, detail=pin_detail(key))
            return
        # Another batch of this credential pinned a key meanwhile: hold this one to it.
        pinned = (
            AgentKey.objects.select_for_update()
            .filter(credential_id=credential, retired_at__isnull=True)
            .values_list("public_key", "fingerprint")
            .get()
        )
    if pinned[0] != offered.hex():
        raise BatchRefused(
            Reason.AGENT_KEY_MISMATCH,
            f"the heads are signed with key {key_fingerprint(offered)}, but this credential's "
            f"pinned agent key is {pinned[1]}: a journal with another key (moved, restored "
            "or re-created?) or a forger; an administrator retires the pin to accept a new key "
            "(manage.py agent_keys retire)",
            agent_id,
        )


_PIN_FIRST_USE = """
INSERT INTO ingest_agentkey (credential_id, agent_id, public_key, fingerprint, how, pinned_at,
                             retired_by, retired_reason)
VALUES (%s, %s, %s, %s, 'first_use', now(), '', '')
ON CONFLICT (credential_id) WHERE retired_at IS NULL DO NOTHING
RETURNING id
"""


def _pin_first_use(credential: int, agent_id: str, public: bytes) -> AgentKey | None:
    """Pin `public` to the credential; None if a concurrent batch pinned one first."""
    fingerprint = key_fingerprint(public)
    if connection.vendor != "postgresql":
        return AgentKey.objects.create(
            credential_id=credential,
            agent_id=agent_id,
            public_key=public.hex(),
            fingerprint=fingerprint,
        )
    with connection.cursor() as cursor:
        cursor.execute(_PIN_FIRST_USE, [credential, agent_id, public.hex(), fingerprint])
        row = cursor.fetchone()
    return AgentKey.objects.get(pk=row[0]) if row else None


def pin_detail(key: AgentKey) -> dict[str, Any]:
    """What the trail records of a pin: enough for verification to re-check the row."""
    return {
        "agent_key": key.pk,
        "credential": key.credential_id,
        "agent_id": key.agent_id,
        "public_key": key.public_key,
        "fingerprint": key.fingerprint,
        "how": str(key.how),  # the plain value: the trail takes JSON values only
    }


_STORE_HEADS = """
INSERT INTO ingest_signedstreamhead (stream_id, seq, hash, public_key, signature, received_at)
SELECT * , now() FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[])
ON CONFLICT (stream_id) DO UPDATE SET
    seq = EXCLUDED.seq, hash = EXCLUDED.hash, public_key = EXCLUDED.public_key,
    signature = EXCLUDED.signature, received_at = now()
WHERE ingest_signedstreamhead.seq < EXCLUDED.seq
"""


def store_signed_heads(heads: list[SignedHead]) -> None:
    """Keep each stream's latest signed head (a resend of an older batch leaves it)."""
    if not heads:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _STORE_HEADS,
                [
                    [h.stream for h in heads],
                    [h.seq for h in heads],
                    [h.hash for h in heads],
                    [h.public_key.hex() for h in heads],
                    [h.signature.hex() for h in heads],
                ],
            )
        return
    for head in heads:
        stored = SignedStreamHead.objects.filter(stream_id=head.stream).first()
        if stored is None or stored.seq < head.seq:
            SignedStreamHead.objects.update_or_create(
                stream_id=head.stream,
                defaults={
                    "seq": head.seq,
                    "hash": head.hash,
                    "public_key": head.public_key.hex(),
                    "signature": head.signature.hex(),
                },
            )


class KeyChangeRefused(Exception):
    """A pin change the rules forbid; the message says which."""


def retire_agent_key(credential: int, by: str, reason: str) -> AgentKey:
    """Retire the credential's pinned key (an administrator's act, on the trail, in this
    transaction): its next signed batch pins the key it carries. For a rotated or lost
    agent key, or a journal re-created elsewhere. The old pin stays on record."""
    from django.db import transaction
    from django.utils import timezone

    if not by:
        raise KeyChangeRefused("retiring an agent key needs the administrator who does it")
    if not reason.strip():
        raise KeyChangeRefused("retiring an agent key needs a reason (it goes on the trail)")
    with transaction.atomic():
        key = (
            AgentKey.objects.select_for_update()
            .filter(credential_id=credential, retired_at__isnull=True)
            .first()
        )
        if key is None:
            raise KeyChangeRefused(f"credential {credential} has no pinned agent key to retire")
        key.retired_at, key.retired_by, key.retired_reason = timezone.now(), by, reason
        key.save(update_fields=["retired_at", "retired_by", "retired_reason"])
        signals.agent_key_retired.send(
            sender=AgentKey, detail={**pin_detail(key), "by": by, "reason": reason}
        )
    return key
