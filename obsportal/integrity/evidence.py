"""Evidence bundles: the events of a query, each stream chained to a signed head, in one file.

The format is documented in `agents_sdk.offline.bundle`, which verifies it offline.
Planning reads only per-stream aggregates and checkpoint heads; writing streams the
rows through a server-side cursor into a file, so memory stays flat at any size.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from agents_sdk.offline.bundle import BUNDLE_FORMAT
from agents_sdk.offline.checkpoint import CheckpointError, head_leaf_hash, verify_checkpoint
from agents_sdk.offline.merkle import inclusion_proof, root_from_leaf_hashes
from obsportal.ingest.envelope import as_envelope_json, envelope_json, format_ts
from obsportal.ingest.models import AuditEvent, SignedStreamHead, Stream
from obsportal.integrity.anchors import anchors_of, pruned_through
from obsportal.integrity.checkpoints import Head, checkpoint_heads, sign_checkpoint
from obsportal.integrity.erasures import personal_data_state
from obsportal.integrity.models import Checkpoint, CheckpointHead
from obsportal.integrity.signing import SigningKey, load_signing_key

CHUNK_SIZE = 2000
Progress = Callable[[int], None]


class BundleRefused(ValueError):
    """The query cannot make a bundle that proves anything: say why, in a sentence."""


class NothingToBundle(BundleRefused):
    """The query names no agent that exists, or selects no event (the API's 404)."""


@dataclass(frozen=True)
class StreamPlan:
    stream: str
    agent_id: str
    first_seq: int
    last_seq: int
    selected: int
    head: dict[str, Any]  # checkpoint number, seq, hash, index, proof
    # The latest head its agent signed (`SignedHead.as_wire`), None for a stream without one.
    agent_head: dict[str, Any] | None = None

    @property
    def events(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True)
class BundlePlan:
    agent_id: str
    since: datetime | None
    until: datetime | None
    streams: list[StreamPlan]
    checkpoints: dict[int, str]  # number -> note

    @property
    def selected(self) -> int:
        return sum(s.selected for s in self.streams)

    @property
    def events(self) -> int:
        return sum(s.events for s in self.streams)


def plan_bundle(
    agent_id: str, since: datetime | None, until: datetime | None, sign_if_needed: bool = True
) -> BundlePlan:
    """Which events each stream must carry, and the signed head that closes it.

    Per stream: from the last event before `since` (or seq 0) to the head signed in
    the first checkpoint at or past the first event after `until` (or the last
    selected one). A stream no checkpoint covers yet gets a checkpoint signed now.
    """
    if since and until and since >= until:
        raise BundleRefused(f"the range is reversed or empty: since {since} is not before {until}")
    if not Stream.objects.filter(agent_id=agent_id).exists():
        raise NothingToBundle(f"there is no agent {agent_id!r}: no stream of it was ever admitted")
    query = AuditEvent.objects.filter(agent_id=agent_id)
    if since:
        query = query.filter(ts__gte=since)
    if until:
        query = query.filter(ts__lt=until)
    ranges = list(
        query.values("stream_id")
        .annotate(low=Min("seq"), high=Max("seq"), n=Count("id"))
        .order_by("stream_id")
    )
    if not ranges:
        raise NothingToBundle(f"the query selects no event of agent {agent_id!r} in that range")
    proofs = _Proofs()
    streams = []
    for row in ranges:
        stream_id, low, high = row["stream_id"], row["low"], row["high"]
        after = AuditEvent.objects.filter(stream_id=stream_id, seq=high + 1).exists()
        head = proofs.covering(stream_id, high + 1 if after else high)
        if head is None and sign_if_needed:
            sign_checkpoint()
            head = proofs.covering(stream_id, high + 1 if after else high)
        if head is None:
            raise BundleRefused(f"no signed checkpoint covers stream {stream_id} up to seq {high}")
        # A pruned stream starts after its anchors, which the bundle carries instead.
        start = pruned_through(stream_id) + 1
        first, last = max(low - 1, start), head["seq"]
        agent_head = _agent_head(stream_id)
        if agent_head is not None:
            # The chain runs on to the agent-signed head, so the verifier can check that
            # the agent signed what the bundle holds (and find a tail cut below it).
            # (Never below the pruned start: a head signed inside a pruned range is
            # accounted for by the anchors, not by events the bundle cannot hold.)
            first = max(min(first, agent_head["seq"]), start)
            last = max(last, agent_head["seq"])
        streams.append(StreamPlan(stream_id, agent_id, first, last, row["n"], head, agent_head))
    return BundlePlan(agent_id, since, until, streams, proofs.notes)


def _agent_head(stream_id: str) -> dict[str, Any] | None:
    signed = SignedStreamHead.objects.filter(stream_id=stream_id).first()
    if signed is None:
        return None
    return {
        "v": 1,
        "stream": stream_id,
        "seq": signed.seq,
        "hash": signed.hash,
        "key": base64.b64encode(bytes.fromhex(signed.public_key)).decode(),
        "sig": base64.b64encode(bytes.fromhex(signed.signature)).decode(),
    }


class _Proofs:
    """Inclusion proofs from checkpoints whose heads still reproduce their signed root.

    A checkpoint whose stored heads were edited is replaced by its copy outside
    PostgreSQL, or passed over for a later one: one damaged leaf must never fail
    the proof of another stream.
    """

    def __init__(self) -> None:
        self.key: SigningKey = load_signing_key()
        self.leaves: dict[int, list[Head] | None] = {}
        self.notes: dict[int, str] = {}

    def covering(self, stream_id: str, seq: int) -> dict[str, Any] | None:
        candidates = (
            CheckpointHead.objects.filter(stream_id=stream_id, seq__gte=seq)
            .order_by("checkpoint__number")
            .values_list("checkpoint__number", flat=True)
        )
        for number in candidates.iterator():
            heads = self._sound_heads(number)
            index = next((i for i, h in enumerate(heads or []) if h.stream == stream_id), None)
            if index is None or heads[index].seq < seq:
                continue
            hashes = [head_leaf_hash(h.stream, h.seq, h.hash) for h in heads]
            head = heads[index]
            return {
                "checkpoint": number,
                "seq": head.seq,
                "hash": head.hash,
                "index": index,
                "proof": [base64.b64encode(p).decode() for p in inclusion_proof(index, hashes)],
            }
        return None

    def _sound_heads(self, number: int) -> list[Head] | None:
        if number in self.leaves:
            return self.leaves[number]
        checkpoint = Checkpoint.objects.get(number=number)
        heads = None
        for candidate in (checkpoint_heads(checkpoint), _copied_heads(number)):
            if candidate is not None and self._reproduces(checkpoint.note, candidate):
                heads = candidate
                break
        self.leaves[number] = heads
        if heads is not None:
            self.notes[number] = checkpoint.note
        return heads

    def _reproduces(self, note: str, heads: list[Head]) -> bool:
        try:
            signed = verify_checkpoint(note, self.key.name, self.key.public_bytes)
        except CheckpointError:
            return False
        root = root_from_leaf_hashes([head_leaf_hash(h.stream, h.seq, h.hash) for h in heads])
        return (signed.size, signed.root) == (len(heads), root)


def _copied_heads(number: int) -> list[Head] | None:
    path = Path(settings.OBSPORTAL_CHECKPOINT_DIR) / f"checkpoint-{number:08d}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Head(h["stream"], h["seq"], h["hash"]) for h in data["heads"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_bundle(plan: BundlePlan, out: IO[bytes], progress: Progress | None = None) -> int:
    """Write the bundle's JSON lines to `out`; return the number of events written."""
    key = load_signing_key()
    dumps = orjson.dumps
    header = {
        "type": "bundle",
        "format": BUNDLE_FORMAT,
        "created_at": format_ts(timezone.now()),
        "query": {
            "agent_id": plan.agent_id,
            "since": format_ts(plan.since) if plan.since else None,
            "until": format_ts(plan.until) if plan.until else None,
        },
        "portal_key": {"verifier_key": key.verifier_key, "pem": key.public_pem},
        "checkpoints": [
            {"number": n, "note": plan.checkpoints[n]} for n in sorted(plan.checkpoints)
        ],
        "streams": len(plan.streams),
        "selected": plan.selected,
        # Streams of this agent are the portal's own trail: no agent key signs them.
        "trail_agent": settings.OBSPORTAL_TRAIL_AGENT_ID,
    }
    out.write(dumps(header) + b"\n")
    written = 0
    for stream in plan.streams:
        line = {
            "type": "stream",
            "stream": stream.stream,
            "agent_id": stream.agent_id,
            "first_seq": stream.first_seq,
            "last_seq": stream.last_seq,
            "selected": stream.selected,
            "head": stream.head,
            "agent_head": stream.agent_head,
        }
        if stream.first_seq > 0:
            anchors = [a.note for a in anchors_of(stream.stream) if a.last_seq < stream.first_seq]
            if anchors:
                line["anchors"] = anchors
        out.write(dumps(line) + b"\n")
        for chunk in _event_lines(stream.stream, stream.first_seq, stream.last_seq):
            out.write(b"".join(chunk))
            written += len(chunk)
            if progress:
                progress(len(chunk))
        # Personal data the portal no longer holds, and the signed erasure receipts that
        # explain it: the offline verifier reads "erased under R" or tampering from them.
        state = personal_data_state(stream.stream, stream.first_seq, stream.last_seq)
        if state["missing"]:
            out.write(
                dumps(
                    {
                        "type": "personal_data",
                        "stream": stream.stream,
                        "missing": state["missing"],
                        "receipts": state["receipts"],
                    }
                )
                + b"\n"
            )
    out.write(dumps({"type": "end", "streams": len(plan.streams), "events": written}) + b"\n")
    return written


_RANGE_SQL = """
    SELECT id, canonical, hash FROM ingest_auditevent
    WHERE stream_id = %s AND seq BETWEEN %s AND %s ORDER BY seq
"""


def _event_lines(stream_id: str, first: int, last: int):
    """Chunks of event lines, seq first..last, through a server-side cursor: the stored
    canonical bytes with `hash`, as the journal wrote them."""
    if connection.vendor != "postgresql":
        rows = AuditEvent.objects.filter(stream_id=stream_id, seq__range=(first, last))
        chunk = []
        for event in rows.order_by("seq").iterator(chunk_size=CHUNK_SIZE):
            chunk.append(as_envelope_json(event) + b"\n")
            if len(chunk) == CHUNK_SIZE:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(_RANGE_SQL, [stream_id, first, last])
        while batch := cursor.fetchmany(CHUNK_SIZE):
            yield [
                envelope_json(canonical, digest) + b"\n"
                if canonical is not None  # else a row stored before the canonical column
                else as_envelope_json(AuditEvent.objects.get(pk=pk)) + b"\n"
                for pk, canonical, digest in batch
            ]
