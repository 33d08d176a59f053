"""Admitting batches of envelope-v1 events: the one path behind the Celery task and the API.

A batch is checked whole before anything is stored (shape, credential, every
hash, every link inside the batch); then, per stream and under a row lock on
its head, each event either extends the head, is an identical re-delivery
(a no-op), is a fork (recorded as an incident, the original kept, the batch
refused), or waits for a gap before it to fill.

On PostgreSQL a batch costs a fixed handful of round trips whatever its size:
the token lookup, one locked read of every head, one lookup of already-stored
seqs (only when the batch reaches below a head: a resend), one COPY of the rows
(plus one INSERT of the personal-data sidecars when there are any) and one
head update. Other databases (the embedded SQLite demo) take the ORM path.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from agents_sdk.audit.canonical import NotCanonicalizable
from agents_sdk.audit.chain import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    canonical_body,
    validate_envelope,
    verify_personal_data,
)
from obsportal.accounts.services import InvalidIngestToken, agent_for_token
from obsportal.ingest.models import (
    AuditEvent,
    IntegrityIncident,
    PendingEvent,
    PersonalDatum,
    RejectedBatch,
    Stream,
)

MAX_BATCH_EVENTS = 5000
# The largest HTTP ingest body: 5,000 events of ~0.5 KiB is ~2.5 MiB; this leaves
# room for richer events while keeping one request's memory bounded.
MAX_BATCH_BYTES = 32 * 1024 * 1024
# How far ahead of a stream's head an event may wait for the gap to fill. As
# (stream, seq) is unique among pending events, this also bounds a stream's waiting room.
MAX_PENDING_AHEAD = 10_000
REJECTED_SAMPLE = 3


class Reason(StrEnum):
    """Stable codes of a refused batch (dead letters, API verdicts, metrics labels)."""

    MALFORMED = "malformed"  # not an object with a non-empty 'events' list
    MALFORMED_JSON = "malformed_json"  # HTTP body, or a line of a JSONL batch, is not JSON
    OVERSIZED = "oversized"  # more events (or bytes) than a batch may hold
    BAD_TOKEN = "bad_token"  # no token, or unknown or revoked
    WRONG_AGENT = "wrong_agent"  # an event or stream of another agent
    INVALID_EVENT = "invalid_event"  # does not follow envelope v1
    BAD_HASH = "bad_hash"  # hash does not recompute from the content
    CONFLICT_IN_BATCH = "conflict_in_batch"  # one (stream, seq) twice, different content
    BROKEN_LINK = "broken_link"  # prev_hash does not link to the stored head
    FORK = "fork"  # a different event at a stored seq (incident recorded)
    TOO_FAR_AHEAD = "too_far_ahead"  # beyond the bounded waiting room of a gap
    DUPLICATE_EVENT_ID = "duplicate_event_id"  # event_id stored at another position
    STORAGE_ERROR = "storage_error"  # the database refused the rows for good (task edge)


class BatchRefused(Exception):
    """The batch cannot be admitted; nothing of it is stored."""

    def __init__(self, code: Reason, reason: str, agent_id: str = ""):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.agent_id = agent_id


@dataclass
class AdmitResult:
    """The verdict on one batch, with what the edges need to count and time it."""

    status: str  # "accepted" or "rejected"
    agent_id: str = ""
    offered: int = 0
    admitted: int = 0
    duplicates: int = 0
    forks: int = 0
    pending: int = 0
    reason_code: str = ""
    reason: str = ""
    heads: dict[str, int] = field(default_factory=dict)
    # Admitted events per `result` value (success, failure, denied, error).
    admitted_by_result: dict[str, int] = field(default_factory=dict)
    # `ts` of the oldest and newest admitted event (RFC 3339), for ingest lag.
    oldest_admitted_ts: str | None = None
    newest_admitted_ts: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Head:
    """A stream's head as locked for this batch, and what the batch changes about it."""

    id: str
    agent_id: str
    seq: int
    hash: str
    status: str
    pending_count: int
    changed: bool = False


def decode_batch(batch: Any) -> Any:
    """The events form `{"token", "events": [...]}` of a batch sent as JSONL lines.

    Shippers send `{"token", "lines": "<one event per line>"}`: the broker's JSON
    codec then handles one string instead of thousands of nested objects, and the
    lines are parsed here with orjson (measured in benchmarks/INGEST.md). Any other
    batch is returned as it is; a line that is not JSON refuses the batch.
    """
    if not isinstance(batch, dict) or "lines" not in batch or "events" in batch:
        return batch
    text = batch["lines"]
    if not isinstance(text, str):
        raise BatchRefused(Reason.MALFORMED, "a batch's 'lines' must be a string of JSON lines")
    if len(text) > MAX_BATCH_BYTES:
        raise BatchRefused(
            Reason.OVERSIZED, f"the batch is {len(text)} characters; the limit is {MAX_BATCH_BYTES}"
        )
    # Newlines only: U+2028, U+0085 and friends may stand unescaped inside a JSON string.
    lines = text.removesuffix("\n").split("\n") if text else []
    if len(lines) > MAX_BATCH_EVENTS:
        raise BatchRefused(
            Reason.OVERSIZED, f"the batch has {len(lines)} events; the limit is {MAX_BATCH_EVENTS}"
        )
    loads = orjson.loads
    try:
        events = [loads(line) for line in lines]
    except orjson.JSONDecodeError:
        index = next(i for i, line in enumerate(lines) if not _is_json(line))
        raise BatchRefused(
            Reason.MALFORMED_JSON, f"line {index} of the batch is not JSON: {lines[index][:80]!r}"
        ) from None
    return {"token": batch.get("token"), "events": events}


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def admit_batch(batch: Any) -> AdmitResult:
    """Verify a batch and store what extends each stream's head; refuse it whole if malformed."""
    agent_id = ""
    try:
        batch = decode_batch(batch)
        agent_id, events = _checked_batch(batch)
        return _admit(agent_id, events)
    except BatchRefused as refused:
        record_rejection(batch, refused.code, refused.reason, refused.agent_id or agent_id)
        return AdmitResult(
            status="rejected",
            agent_id=refused.agent_id or agent_id,
            offered=_event_count(batch),
            reason_code=refused.code,
            reason=refused.reason,
        )
    except _ForkRefused as forked:
        record_rejection(batch, Reason.FORK, forked.reason, agent_id)
        return AdmitResult(
            status="rejected",
            agent_id=agent_id,
            offered=_event_count(batch),
            forks=forked.forks,
            duplicates=forked.duplicates,
            reason_code=Reason.FORK,
            reason=forked.reason,
        )


def refuse_batch(batch: Any, code: Reason, reason: str) -> AdmitResult:
    """Dead-letter a batch an edge could not hand to `admit_batch` (bad JSON, storage error)."""
    record_rejection(batch, code, reason, "")
    return AdmitResult(
        status="rejected", offered=_event_count(batch), reason_code=code, reason=reason
    )


# -- checking a batch before touching any stream ---------------------------------------


def _checked_batch(batch: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
        raise BatchRefused(Reason.MALFORMED, "a batch must be an object with an 'events' list")
    events = batch["events"]
    if not events:
        raise BatchRefused(Reason.MALFORMED, "the batch has no events")
    if len(events) > MAX_BATCH_EVENTS:
        raise BatchRefused(
            Reason.OVERSIZED,
            f"the batch has {len(events)} events; the limit is {MAX_BATCH_EVENTS}",
        )
    try:
        agent_id = agent_for_token(batch.get("token"))
    except InvalidIngestToken as exc:
        raise BatchRefused(Reason.BAD_TOKEN, str(exc)) from exc
    for index, event in enumerate(events):
        try:
            validate_envelope(event)
            if event["agent_id"] != agent_id:
                raise BatchRefused(
                    Reason.WRONG_AGENT,
                    f"event {index} is for agent '{event['agent_id']}', but the token "
                    f"belongs to agent '{agent_id}'",
                    agent_id,
                )
            _verify_hash(event)
            verify_personal_data(event)
        except InvalidEvent as exc:
            code = Reason.BAD_HASH if "hash does not match" in str(exc) else Reason.INVALID_EVENT
            raise BatchRefused(code, f"event {index}: {exc}", agent_id) from exc
    return agent_id, events


def _verify_hash(event: dict[str, Any]) -> None:
    """Recompute the hash from the canonical body, refusing bodies over the SDK's size limit."""
    try:
        canonical = canonical_body(event)
    except NotCanonicalizable as exc:
        raise InvalidEvent(f"event body is not canonical JSON: {exc}") from exc
    if len(canonical) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event is {len(canonical)} bytes once canonicalized; the limit is {MAX_EVENT_BYTES}"
        )
    recomputed = hashlib.sha256(bytes.fromhex(event["prev_hash"]) + canonical).hexdigest()
    if recomputed != event["hash"]:
        raise InvalidEvent(
            f"hash does not match the event's content (carried {event['hash'][:12]}…, "
            f"recomputed {recomputed[:12]}…)"
        )


def _by_stream(events: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Group by stream and seq; the same seq twice in one batch must be the same event."""
    streams: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for event in events:
        seen = streams[event["stream"]].get(event["seq"])
        if seen is not None and seen["hash"] != event["hash"]:
            raise BatchRefused(
                Reason.CONFLICT_IN_BATCH,
                f"stream {event['stream']} seq {event['seq']} appears twice with different content",
            )
        streams[event["stream"]][event["seq"]] = event
    return streams


# -- admission under the head locks ---------------------------------------------------


class _ForkRefused(Exception):
    """Forks were found: the incidents are committed, the rest of the batch is not stored."""

    def __init__(self, forks: int, duplicates: int, reason: str):
        super().__init__(reason)
        self.forks, self.duplicates, self.reason = forks, duplicates, reason


def _admit(agent_id: str, events: list[dict[str, Any]]) -> AdmitResult:
    result = AdmitResult(status="accepted", agent_id=agent_id, offered=len(events))
    streams = _by_stream(events)
    try:
        with transaction.atomic():
            heads = _locked_heads(agent_id, sorted(streams))
            forks = _drop_known(heads, streams, result)
            if forks:
                # Record the incidents (committed with this transaction) and store nothing else:
                # a journal that rewrote its past must be looked at before it ships more.
                _record_forks(heads, forks)
                first = forks[0]
                raise_after_commit = _ForkRefused(
                    len(forks),
                    result.duplicates,
                    f"stream {first[0].id} seq {first[1]['seq']}: a different event is already "
                    f"stored at this seq (stored {first[2][:12]}…, offered "
                    f"{first[1]['hash'][:12]}…); recorded as an integrity incident",
                )
            else:
                raise_after_commit = None
                admitted = _admit_in_order(agent_id, heads, streams, result)
                if admitted:
                    _store_events(admitted)
                _save_heads([head for head in heads.values() if head.changed])
    except IntegrityError as exc:
        _refuse_reused_event_id(agent_id, events, exc)
        raise
    if raise_after_commit is not None:
        raise raise_after_commit
    result.heads = {stream_id: head.seq for stream_id, head in heads.items()}
    return result


def _locked_heads(agent_id: str, stream_ids: list[str]) -> dict[str, _Head]:
    """Lock every head of the batch, creating missing streams; in id order against deadlocks."""
    heads = _select_heads_for_update(stream_ids)
    missing = [stream_id for stream_id in stream_ids if stream_id not in heads]
    trail = settings.OBSPORTAL_TRAIL_STREAM
    if trail in missing and agent_id != settings.OBSPORTAL_TRAIL_AGENT_ID:
        # The portal's own trail is its own agent's: nobody else may start it first.
        raise BatchRefused(
            Reason.WRONG_AGENT, f"stream {trail} is the portal's own trail", agent_id
        )
    if missing:
        Stream.objects.bulk_create(
            [Stream(id=stream_id, agent_id=agent_id) for stream_id in missing],
            ignore_conflicts=True,
        )
        heads = _select_heads_for_update(stream_ids)
    for head in heads.values():
        if head.agent_id != agent_id:
            raise BatchRefused(
                Reason.WRONG_AGENT,
                f"stream {head.id} belongs to agent '{head.agent_id}'",
                agent_id,
            )
    return heads


def _select_heads_for_update(stream_ids: list[str]) -> dict[str, _Head]:
    rows = (
        Stream.objects.select_for_update()
        .filter(id__in=stream_ids)
        .order_by("id")
        .values_list("id", "agent_id", "head_seq", "head_hash", "status", "pending_count")
    )
    return {row[0]: _Head(*row) for row in rows}


def _drop_known(
    heads: dict[str, _Head],
    streams: dict[str, dict[int, dict[str, Any]]],
    result: AdmitResult,
) -> list[tuple[_Head, dict[str, Any], str]]:
    """Take events at or below their head out of the batch: duplicates or forks."""
    known = [
        (stream_id, seq)
        for stream_id, offered in streams.items()
        for seq in offered
        if seq <= heads[stream_id].seq
    ]
    if not known:
        return []
    stored = _stored_hashes(known)
    forks = []
    for stream_id, seq in known:
        event = streams[stream_id].pop(seq)
        stored_hash = stored.get((stream_id, seq))
        if stored_hash is None:  # below the head but absent: pruned by retention
            continue
        if stored_hash == event["hash"]:
            result.duplicates += 1
        else:
            forks.append((heads[stream_id], event, stored_hash))
    return forks


def _stored_hashes(keys: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.stream_id, e.seq, e.hash"
                " FROM unnest(%s::text[], %s::bigint[]) AS k(stream_id, seq)"
                " JOIN ingest_auditevent e ON e.stream_id = k.stream_id AND e.seq = k.seq",
                [[k[0] for k in keys], [k[1] for k in keys]],
            )
            return {(s, q): h for s, q, h in cursor.fetchall()}
    by_stream: dict[str, list[int]] = defaultdict(list)
    for stream_id, seq in keys:
        by_stream[stream_id].append(seq)
    stored = {}
    for stream_id, seqs in by_stream.items():
        rows = AuditEvent.objects.filter(stream_id=stream_id, seq__in=seqs).values_list(
            "seq", "hash"
        )
        stored.update({(stream_id, seq): digest for seq, digest in rows})
    return stored


def _admit_in_order(
    agent_id: str,
    heads: dict[str, _Head],
    streams: dict[str, dict[int, dict[str, Any]]],
    result: AdmitResult,
) -> list[dict[str, Any]]:
    """Walk each stream from its head through offered and waiting events; park the rest."""
    waiting = _waiting_events([head for head in heads.values() if head.pending_count])
    admitted: list[dict[str, Any]] = []
    parked: list[PendingEvent] = []
    for stream_id, offered in streams.items():
        head = heads[stream_id]
        queue = waiting.get(stream_id, {})
        start = len(admitted)
        while True:
            next_seq = head.seq + 1
            # An offered event wins over a waiting copy of the same seq; both leave the queue.
            waited = queue.pop(next_seq, None)
            event = offered.pop(next_seq, None) or waited
            if event is None:
                break
            if event["prev_hash"] != head.hash:
                raise BatchRefused(
                    Reason.BROKEN_LINK,
                    f"stream {stream_id} seq {next_seq}: prev_hash {event['prev_hash'][:12]}… "
                    f"does not link to the stored head hash {head.hash[:12]}…",
                    agent_id,
                )
            admitted.append(event)
            head.seq, head.hash, head.changed = next_seq, event["hash"], True
        for seq, event in offered.items():  # ahead of a gap: wait for it to fill
            if seq - head.seq > MAX_PENDING_AHEAD:
                raise BatchRefused(
                    Reason.TOO_FAR_AHEAD,
                    f"stream {stream_id} seq {seq} is more than {MAX_PENDING_AHEAD} past the "
                    f"head ({head.seq}); the gap before it must be shipped first",
                    agent_id,
                )
            if seq not in queue:
                parked.append(PendingEvent(stream_id=stream_id, seq=seq, payload=event))
                queue[seq] = event
            result.pending += 1
        if len(admitted) > start or head.pending_count != len(queue):
            head.pending_count, head.changed = len(queue), True
            if stream_id in waiting:
                # Waiting events at or below the new head are admitted (or superseded).
                PendingEvent.objects.filter(stream_id=stream_id, seq__lte=head.seq).delete()
    if parked:
        PendingEvent.objects.bulk_create(parked, ignore_conflicts=True)
    for event in admitted:
        result.admitted_by_result[event["result"]] = (
            result.admitted_by_result.get(event["result"], 0) + 1
        )
    if admitted:
        result.admitted = len(admitted)
        stamps = [event["ts"] for event in admitted]
        result.oldest_admitted_ts, result.newest_admitted_ts = min(stamps), max(stamps)
    return admitted


def _waiting_events(heads: list[_Head]) -> dict[str, dict[int, dict[str, Any]]]:
    waiting: dict[str, dict[int, dict[str, Any]]] = {head.id: {} for head in heads}
    if heads:
        rows = PendingEvent.objects.filter(stream_id__in=list(waiting)).values_list(
            "stream_id", "seq", "payload"
        )
        for stream_id, seq, payload in rows:
            waiting[stream_id][seq] = payload
    return waiting


# -- writing ------------------------------------------------------------------------------

_COPY_COLUMNS = (
    "event_id, stream_id, seq, ts, agent_id, action, result, user_id, resource, details,"
    " trace_id, span_id, pii_commitments, prev_hash, hash, received_at"
)


def _store_events(events: list[dict[str, Any]]) -> None:
    if connection.vendor == "postgresql":
        _copy_events(events)
    else:
        _bulk_create_events(events)


def _copy_events(events: list[dict[str, Any]]) -> None:
    """COPY the rows in (text format; psycopg escapes), then the sidecars joined by event_id."""
    received = datetime.now(UTC).isoformat()
    dumps = orjson.dumps
    sidecars: list[tuple[str, str, str, str]] = []
    with (
        connection.wrap_database_errors,
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY ingest_auditevent ({_COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        for e in events:
            copy.write_row(
                (
                    e["event_id"],
                    e["stream"],
                    e["seq"],
                    e["ts"],
                    e["agent_id"],
                    e["action"],
                    e["result"],
                    e["user_id"],
                    e["resource"],
                    dumps(e["details"]).decode(),
                    e["trace_id"],
                    e["span_id"],
                    dumps(e["pii_commitments"]).decode(),
                    e["prev_hash"],
                    e["hash"],
                    received,
                )
            )
            for name, entry in e.get("pii", {}).items():
                value = dumps(entry["value"]).decode()
                sidecars.append((e["event_id"], name, value, entry["salt"]))
    if sidecars:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ingest_personaldatum (event_id, field, value, salt)"
                " SELECT e.id, s.field, s.value, s.salt"
                " FROM unnest(%s::uuid[], %s::text[], %s::jsonb[], %s::text[])"
                "   AS s(event_uuid, field, value, salt)"
                " JOIN ingest_auditevent e ON e.event_id = s.event_uuid",
                [list(column) for column in zip(*sidecars, strict=True)],
            )


def _bulk_create_events(events: list[dict[str, Any]]) -> None:
    rows = [
        AuditEvent(
            event_id=event["event_id"],
            stream_id=event["stream"],
            seq=event["seq"],
            ts=parse_ts(event["ts"]),
            agent_id=event["agent_id"],
            action=event["action"],
            result=event["result"],
            user_id=event["user_id"],
            resource=event["resource"],
            details=event["details"],
            trace_id=event["trace_id"],
            span_id=event["span_id"],
            pii_commitments=event["pii_commitments"],
            prev_hash=event["prev_hash"],
            hash=event["hash"],
        )
        for event in events
    ]
    AuditEvent.objects.bulk_create(rows)
    sidecars = [
        PersonalDatum(event=row, field=name, value=entry["value"], salt=entry["salt"])
        for row, event in zip(rows, events, strict=True)
        for name, entry in event.get("pii", {}).items()
    ]
    if sidecars:
        PersonalDatum.objects.bulk_create(sidecars)


def _save_heads(heads: list[_Head]) -> None:
    if not heads:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE ingest_stream s SET head_seq = h.seq, head_hash = h.hash,"
                " pending_count = h.pending, updated_at = now()"
                " FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::int[])"
                "   AS h(id, seq, hash, pending)"
                " WHERE s.id = h.id",
                [
                    [h.id for h in heads],
                    [h.seq for h in heads],
                    [h.hash for h in heads],
                    [h.pending_count for h in heads],
                ],
            )
        return
    for head in heads:
        Stream.objects.filter(id=head.id).update(
            head_seq=head.seq,
            head_hash=head.hash,
            pending_count=head.pending_count,
            updated_at=datetime.now(UTC),
        )


def _record_forks(heads: dict[str, _Head], forks: list[tuple[_Head, dict[str, Any], str]]) -> None:
    """One incident per distinct offered event: a shipper retrying the same fork adds none."""
    for head, event, stored_hash in forks:
        IntegrityIncident.objects.get_or_create(
            stream_id=head.id,
            seq=event["seq"],
            kind=IntegrityIncident.Kind.FORK,
            offered_hash=event["hash"],
            defaults={"stored_hash": stored_hash, "offered_event": event},
        )
    Stream.objects.filter(id__in={head.id for head, _, _ in forks}).exclude(
        status=Stream.Status.FORKED
    ).update(status=Stream.Status.FORKED, updated_at=datetime.now(UTC))


def _refuse_reused_event_id(agent_id: str, events: list[dict[str, Any]], exc: Exception) -> None:
    """A unique violation under the head locks can only be an event_id stored elsewhere."""
    reused = (
        AuditEvent.objects.filter(event_id__in=[e["event_id"] for e in events])
        .values_list("event_id", "stream_id", "seq")
        .first()
    )
    if reused is None:
        return  # not ours to explain: let the caller retry
    raise BatchRefused(
        Reason.DUPLICATE_EVENT_ID,
        f"event_id {reused[0]} is already stored at another position "
        f"(stream {reused[1]} seq {reused[2]})",
        agent_id,
    ) from exc


# -- dead letters ---------------------------------------------------------------------------


def record_rejection(batch: Any, code: Reason | str, reason: str, agent_id: str = "") -> None:
    """Keep a dead letter of a refused batch: its reason and its first events."""
    events = batch.get("events") if isinstance(batch, dict) else None
    sample = events[:REJECTED_SAMPLE] if isinstance(events, list) else [repr(batch)[:2000]]
    RejectedBatch.objects.create(
        agent_id=agent_id,
        reason_code=str(code),
        reason=reason,
        event_count=len(events) if isinstance(events, list) else 0,
        sample=sample,
    )


def _event_count(batch: Any) -> int:
    events = batch.get("events") if isinstance(batch, dict) else None
    return len(events) if isinstance(events, list) else 0


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_ts(value: datetime) -> str:
    """The envelope's RFC 3339 form of a stored timestamp (UTC, microseconds, Z)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
