"""Comparing a walked stream with what else vouches for it: the head ingestion recorded,
and every head a signed checkpoint (in the database or in a copy outside it) names."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Min

from obsportal.ingest.models import Stream
from obsportal.integrity.models import CheckpointHead
from obsportal.integrity.verification.findings import StreamFindings

# stream -> seq -> [(checkpoint id, signed hash)]
SignedHeads = dict[str, dict[int, list[tuple[int, str]]]]


def signed_heads(
    stream_id: str, copied: SignedHeads | None = None
) -> dict[int, list[tuple[int, str]]]:
    """seq -> [(first checkpoint number, signed hash)], one entry per distinct signed head,
    from the checkpoint table and from the copies outside PostgreSQL."""
    heads: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = (
        CheckpointHead.objects.filter(stream_id=stream_id)
        .values("seq", "hash")
        .annotate(first=Min("checkpoint__number"))
        .order_by("seq")
    )
    for row in rows:
        heads[row["seq"]].append((row["first"], row["hash"]))
    for seq, entries in (copied or {}).get(stream_id, {}).items():
        for checkpoint_id, signed_hash in entries:
            if all(known != signed_hash for _, known in heads[seq]):
                heads[seq].append((checkpoint_id, signed_hash))
    return heads


def compare_with_record(findings: StreamFindings, head_hash_seen: str | None) -> None:
    """The stream's recorded head (kept by ingestion) must be the last stored event.

    Ingestion keeps running during a walk. The head read before the walk is
    covered by the cursor's snapshot, so events missing below it are missing;
    events beyond it are checked against the head as it stands after the walk.
    """
    head = findings.recorded_head_seq
    # A stream pruned to its head has no rows left: its last seq is the anchor's.
    last = findings.last_seq if findings.last_seq is not None else findings.verified_from - 1
    if head is None:
        if findings.events_checked:
            findings.broke(
                findings.first_seq if findings.first_seq is not None else 0,
                None,
                f"{findings.events_checked} events are stored for this stream, but ingestion "
                "has no record of it: its record was deleted, or the rows were put there "
                "around ingestion",
            )
        return
    if last < head:
        findings.broke(
            last + 1,
            None,
            f"events seq {last + 1}..{head} are missing: the stream's recorded head is seq {head}",
        )
        return
    if head >= 0 and head_hash_seen != findings.recorded_head_hash:
        findings.broke(
            head,
            None,
            f"the stored event at the recorded head seq {head} does not have the recorded "
            f"head hash {str(findings.recorded_head_hash)[:12]}…",
        )
    if last > head:
        current = (
            Stream.objects.filter(pk=findings.stream_id).values_list("head_seq", flat=True).first()
        )
        if current is None or current < last:
            findings.broke(
                head + 1,
                None,
                f"events seq {head + 1}..{last} lie beyond the recorded head seq "
                f"{current if current is not None else head}: not admitted by ingestion",
            )


def compare_with_checkpoints(
    findings: StreamFindings,
    signed: dict[int, list[tuple[int, str]]],
    stored_hash_at: dict[int, str],
) -> None:
    """Every head a checkpoint signed must still be stored with the same hash.

    A disagreement is located between the nearest earlier signed head that still
    agrees (everything up to it is proven original: the chain links to a signed
    hash) and the disagreeing one: `changed` is that seq range.
    """
    agreeing = [
        seq
        for seq, entries in signed.items()
        if stored_hash_at.get(seq) is not None and all(h == stored_hash_at[seq] for _, h in entries)
    ]
    for seq, entries in sorted(signed.items()):
        stored = stored_hash_at.get(seq)
        after = max((a for a in agreeing if a < seq), default=-1) + 1
        for checkpoint_id, signed_hash in entries:
            if stored is None:
                first_missing = max(after, (findings.last_seq or -1) + 1)
                findings.disagree(
                    {
                        "checkpoint": checkpoint_id,
                        "seq": seq,
                        "signed_hash": signed_hash,
                        "stored_hash": None,
                        "changed": [first_missing, seq],
                        "reason": f"checkpoint {checkpoint_id} signed head seq {seq}, "
                        "which is no longer stored: the stream was truncated or deleted "
                        f"(seq {first_missing}..{seq} gone or altered)",
                    }
                )
            elif stored != signed_hash:
                findings.disagree(
                    {
                        "checkpoint": checkpoint_id,
                        "seq": seq,
                        "signed_hash": signed_hash,
                        "stored_hash": stored,
                        "changed": [after, seq],
                        "reason": f"checkpoint {checkpoint_id} signed seq {seq} with hash "
                        f"{signed_hash[:12]}…, the stored event has {stored[:12]}…: "
                        f"the stream was rewritten within seq {after}..{seq}",
                    }
                )
