"""Prune anchors: the ranges of a stream that retention removed, as verification reads them.

Retention writes them (`write_prune_anchor`, inside the transaction that then deletes
the rows) and verification reads them through here, so that integrity never imports
retention. Each anchor is a signed note (agents_sdk.offline.anchor) by the checkpoint
key, chained per stream by the SHA-256 of its predecessor, stored in PruneAnchor and
copied beside the checkpoint copies outside PostgreSQL. A removed seq that no anchor
explains is a gap: tampering, located.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from agents_sdk.offline.anchor import (
    GENESIS,
    anchor_body,
    anchor_chain_problems,
    note_digest,
    verify_anchor,
)
from agents_sdk.offline.checkpoint import CheckpointError, sign_note, signer_from_private
from obsportal.ingest.envelope import format_ts
from obsportal.integrity.models import PruneAnchor
from obsportal.integrity.signing import load_signing_key

# Writers of one stream's anchors take this advisory lock (with the stream's hash) so two
# never chain onto the same predecessor.
ANCHOR_LOCK = 0x0B5C_A4C4


def anchors_of(stream_id: str) -> list[PruneAnchor]:
    return list(PruneAnchor.objects.filter(stream_id=stream_id).order_by("last_seq"))


def latest_anchor(stream_id: str) -> PruneAnchor | None:
    return PruneAnchor.objects.filter(stream_id=stream_id).order_by("-last_seq").first()


def pruned_through(stream_id: str) -> int:
    """The last seq retention removed from the stream (-1: none)."""
    anchor = latest_anchor(stream_id)
    return -1 if anchor is None else anchor.last_seq


def write_prune_anchor(
    *,
    stream_id: str,
    first_seq: int,
    last_seq: int,
    last_hash: str,
    count: int,
    policy: str,
    plan_id: int,
    run_id: int | None,
    pruned_at: datetime,
) -> PruneAnchor:
    """Sign and store the anchor of seq first..last of a stream, and copy it outside the
    database. Call it inside the transaction that deletes those rows, before the delete."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ANCHOR_LOCK, stream_id]
            )
    before = latest_anchor(stream_id)
    expected_first = 0 if before is None else before.last_seq + 1
    if first_seq != expected_first:
        raise ValueError(
            f"a prune of {stream_id} must start at seq {expected_first}, not {first_seq}: "
            "a chain is cut at its start, never holed"
        )
    key = load_signing_key()
    values = {
        "stream": stream_id,
        "first": first_seq,
        "last": last_seq,
        "hash": last_hash,
        "count": count,
        "policy": policy,
        "plan": plan_id,
        "run": run_id if run_id is not None else "-",
        "date": format_ts(pruned_at),
        "previous": before.note_hash if before else GENESIS,
    }
    body = anchor_body(settings.OBSPORTAL_CHECKPOINT_ORIGIN, values)
    note = sign_note(body, key.name, signer_from_private(key.private))
    anchor = PruneAnchor.objects.create(
        stream_id=stream_id,
        first_seq=first_seq,
        last_seq=last_seq,
        last_hash=last_hash,
        count=count,
        policy=policy,
        plan_id=plan_id,
        run_id=run_id,
        pruned_at=pruned_at,
        previous=values["previous"],
        key_id=key.key_id,
        note=note,
        note_hash=note_digest(note),
    )
    write_anchor_copy(anchor)
    return anchor


def anchor_copy_dir() -> Path:
    return Path(settings.OBSPORTAL_CHECKPOINT_DIR) / "prune-anchors"


def write_anchor_copy(anchor: PruneAnchor) -> Path:
    directory = anchor_copy_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{anchor.note_hash}.note"
    path.write_text(anchor.note, encoding="utf-8")
    return path


def anchor_as_dict(anchor: PruneAnchor) -> dict[str, Any]:
    """The anchor as bundles and the API carry it: its fields and its signed note."""
    return {
        "stream": anchor.stream_id,
        "from": anchor.first_seq,
        "to": anchor.last_seq,
        "last_hash": anchor.last_hash,
        "count": anchor.count,
        "policy": anchor.policy,
        "plan": anchor.plan_id,
        "run": anchor.run_id,
        "date": format_ts(anchor.pruned_at),
        "note": anchor.note,
    }


def pruned_ranges(stream_id: str) -> list[dict[str, Any]]:
    """Ranges removed by retention, as {"from", "to", "count", "policy", "plan", "date",
    "last_hash", "anchor"}, oldest first, merged where one run's chunks follow each other
    under one policy and plan."""
    merged: list[dict[str, Any]] = []
    for anchor in anchors_of(stream_id):
        last = merged[-1] if merged else None
        if (
            last is not None
            and last["policy"] == anchor.policy
            and last["plan"] == anchor.plan_id
            and last["to"] + 1 == anchor.first_seq
        ):
            last.update(to=anchor.last_seq, count=last["count"] + anchor.count)
            last.update(last_hash=anchor.last_hash, anchor=anchor.note_hash)
            continue
        merged.append(
            {
                "from": anchor.first_seq,
                "to": anchor.last_seq,
                "count": anchor.count,
                "policy": anchor.policy,
                "plan": anchor.plan_id,
                "date": format_ts(anchor.pruned_at)[:10],
                "last_hash": anchor.last_hash,
                "anchor": anchor.note_hash,
            }
        )
    return merged


def describe_pruned(ranges: list[dict[str, Any]]) -> list[str]:
    """ "pruned 0..N by policy P on D", one line a range."""
    return [f"pruned {r['from']}..{r['to']} by policy {r['policy']} on {r['date']}" for r in ranges]


def anchor_problems(stream_id: str) -> list[str]:
    """What is wrong with a stream's anchors: a signature, a row altered against its
    note, the chain of anchors, a copy outside the database missing."""
    anchors = anchors_of(stream_id)
    if not anchors:
        return []
    key = load_signing_key()
    problems: list[str] = []
    parsed = []
    for row in anchors:
        try:
            signed = verify_anchor(row.note, key.name, key.public_bytes)
        except CheckpointError as exc:
            problems.append(f"prune anchor {row.first_seq}..{row.last_seq}: {exc}")
            continue
        stored = (row.stream_id, row.first_seq, row.last_seq, row.last_hash, row.note_hash)
        if stored != (signed.stream, signed.first, signed.last, signed.hash, signed.note_hash):
            problems.append(
                f"prune anchor {row.first_seq}..{row.last_seq}: the stored row differs from "
                "its signed note"
            )
        if not (anchor_copy_dir() / f"{row.note_hash}.note").is_file():
            problems.append(
                f"prune anchor {row.first_seq}..{row.last_seq}: its copy outside the database "
                "is missing"
            )
        parsed.append(signed)
    problems.extend(anchor_chain_problems(stream_id, parsed))
    return problems


def anchor_copies() -> list[dict[str, Any]]:
    """Every anchor copy outside the database, parsed (unsigned fields only, for listing)."""
    out = []
    for path in sorted(anchor_copy_dir().glob("*.note")):
        out.append({"file": path.name, "note": path.read_text(encoding="utf-8")})
    return out


def dumps(anchors: list[PruneAnchor]) -> str:
    return json.dumps([anchor_as_dict(a) for a in anchors], indent=1)
