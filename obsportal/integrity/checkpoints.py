"""Signing checkpoints over all stream heads, keeping copies outside PostgreSQL, and proofs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from agents_sdk.offline.checkpoint import (
    CheckpointError,
    checkpoint_body,
    head_leaf_hash,
    sign_note,
    signer_from_private,
    verify_checkpoint,
)
from agents_sdk.offline.merkle import inclusion_proof, root_from_leaf_hashes
from obsportal.ingest import signals
from obsportal.ingest.envelope import format_ts
from obsportal.ingest.models import Stream
from obsportal.integrity import checkpoint_chain
from obsportal.integrity.models import Checkpoint, CheckpointHead, CheckpointIncident
from obsportal.integrity.signing import load_signing_key

# Signers take this transaction-level advisory lock, so two never claim one number.
SIGNING_LOCK = 0x0B5C_4E55


@dataclass(frozen=True)
class Head:
    stream: str
    seq: int
    hash: str


def current_heads() -> list[Head]:
    """Every stream with at least one event, in leaf order (stream id, code point order)."""
    rows = Stream.objects.filter(head_seq__gte=0).values_list("id", "head_seq", "head_hash")
    return sorted((Head(*row) for row in rows), key=lambda head: head.stream)


def sign_checkpoint() -> Checkpoint:
    """Sign the current heads of all streams as the next link of the checkpoint chain,
    store it and write its copy outside PostgreSQL.

    Issued even when nothing changed since the last one: a steady series of
    signed heads is what makes a later truncation or deletion visible. A
    predecessor missing from the table, the copies or the witness file is
    recorded as an incident of the new checkpoint.
    """
    key = load_signing_key()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SIGNING_LOCK])
        before = checkpoint_chain.predecessor()
        number = before.number + 1
        heads = current_heads()
        root = root_from_leaf_hashes([head_leaf_hash(h.stream, h.seq, h.hash) for h in heads])
        issued_at = timezone.now()
        body = checkpoint_body(
            settings.OBSPORTAL_CHECKPOINT_ORIGIN,
            len(heads),
            root,
            [
                f"timestamp {format_ts(issued_at)}",
                *checkpoint_chain.chain_extensions(number, before.hash),
            ],
        )
        note = sign_note(body, key.name, signer_from_private(key.private))
        checkpoint = Checkpoint.objects.create(
            number=number,
            previous_hash=before.hash,
            issued_at=issued_at,
            origin=settings.OBSPORTAL_CHECKPOINT_ORIGIN,
            tree_size=len(heads),
            root_hash=root.hex(),
            key_id=key.key_id,
            note=note,
        )
        CheckpointHead.objects.bulk_create(
            CheckpointHead(
                checkpoint=checkpoint, leaf_index=i, stream_id=h.stream, seq=h.seq, hash=h.hash
            )
            for i, h in enumerate(heads)
        )
        CheckpointIncident.objects.bulk_create(
            CheckpointIncident(checkpoint_number=number, kind=kind, reason=reason)
            for kind, reason in before.incidents
        )
        for kind, reason in before.incidents:  # on the portal's trail, in this transaction
            signals.integrity_incident.send(
                sender=CheckpointIncident,
                kind="checkpoint",
                detail={"checkpoint": number, "incident": str(kind), "reason": reason},
            )
        # Outside the database but before the commit: a copy without its row is reported,
        # a row without its copy would be a silent hole.
        write_copy(checkpoint, heads)
        checkpoint_chain.write_witness(number, checkpoint_chain.note_hash(note))
    return checkpoint


def write_copy(checkpoint: Checkpoint, heads: list[Head]) -> Path:
    """The note (readable by transparency-log tools) and its leaves, outside the database."""
    directory = Path(settings.OBSPORTAL_CHECKPOINT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"checkpoint-{checkpoint.number:08d}"
    stem.with_suffix(".note").write_text(checkpoint.note, encoding="utf-8")
    leaves = {
        "checkpoint": checkpoint.number,
        "previous": checkpoint.previous_hash,
        "note": checkpoint.note,
        "heads": [{"stream": h.stream, "seq": h.seq, "hash": h.hash} for h in heads],
    }
    path = stem.with_suffix(".json")
    path.write_text(json.dumps(leaves, indent=1), encoding="utf-8")
    return path


def checkpoint_heads(checkpoint: Checkpoint) -> list[Head]:
    rows = checkpoint.heads.order_by("leaf_index").values_list("stream_id", "seq", "hash")
    return [Head(*row) for row in rows]


class HeadNotInCheckpoint(LookupError):
    """The checkpoint signed no head for that stream."""


def inclusion_proof_of(checkpoint: Checkpoint, stream_id: str) -> dict[str, Any]:
    """The RFC 6962 audit path of a stream's head in a checkpoint, in the bundle's JSON form."""
    heads = checkpoint_heads(checkpoint)
    index = next((i for i, h in enumerate(heads) if h.stream == stream_id), None)
    if index is None:
        raise HeadNotInCheckpoint(f"checkpoint {checkpoint.number} signed no head for {stream_id}")
    leaves = [head_leaf_hash(h.stream, h.seq, h.hash) for h in heads]
    head = heads[index]
    return {
        "checkpoint": checkpoint.number,
        "tree_size": len(heads),
        "root_hash": checkpoint.root_hash,
        "stream": head.stream,
        "seq": head.seq,
        "hash": head.hash,
        "index": index,
        "leaf_hash": leaves[index].hex(),
        "proof": [base64.b64encode(p).decode() for p in inclusion_proof(index, leaves)],
    }


def checkpoint_problem(checkpoint: Checkpoint) -> str | None:
    """Why a stored checkpoint no longer stands (bad signature, heads not matching), or None."""
    key = load_signing_key()
    try:
        signed = verify_checkpoint(checkpoint.note, key.name, key.public_bytes)
    except CheckpointError as exc:
        return f"checkpoint {checkpoint.number}: {exc}"
    heads = checkpoint_heads(checkpoint)
    root = root_from_leaf_hashes([head_leaf_hash(h.stream, h.seq, h.hash) for h in heads])
    if signed.size != len(heads) or signed.root != root:
        return (
            f"checkpoint {checkpoint.number}: its stored heads no longer reproduce the signed root "
            f"(signed {signed.size} heads, {signed.root.hex()[:12]}…; stored {len(heads)}, "
            f"{root.hex()[:12]}…)"
        )
    return None


@dataclass(frozen=True)
class CheckpointCopy:
    """A checkpoint read back from OBSPORTAL_CHECKPOINT_DIR, its signature and leaves checked."""

    number: int
    note: str
    heads: list[Head]


def read_copies(limit: int) -> tuple[list[CheckpointCopy], list[str]]:
    """The newest `limit` copies outside PostgreSQL that verify, and problems with the others."""
    directory = Path(settings.OBSPORTAL_CHECKPOINT_DIR)
    paths = sorted(directory.glob("checkpoint-*.json"), reverse=True)[:limit]
    copies: list[CheckpointCopy] = []
    problems: list[str] = []
    if not paths:
        return copies, problems
    key = load_signing_key()
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            heads = [Head(h["stream"], h["seq"], h["hash"]) for h in data["heads"]]
            signed = verify_checkpoint(data["note"], key.name, key.public_bytes)
            number = int(data["checkpoint"])
        except (OSError, ValueError, KeyError, TypeError, CheckpointError) as exc:
            problems.append(f"checkpoint copy {path.name} does not verify: {exc}")
            continue
        root = root_from_leaf_hashes([head_leaf_hash(h.stream, h.seq, h.hash) for h in heads])
        if (signed.size, signed.root) != (len(heads), root):
            problems.append(f"checkpoint copy {path.name}: its leaves do not match its signed root")
            continue
        copies.append(CheckpointCopy(number, data["note"], heads))
    return copies, problems
