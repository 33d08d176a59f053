"""Where admitted events and stream heads are written: the one storage seam of the audit rows.

Admission decides; this module stores, in the shape each database does best. On
PostgreSQL a batch costs a fixed handful of round trips whatever its size: one
locked read of every head, one lookup of already-stored seqs (only for a resend),
one COPY of the rows (plus one INSERT of the personal-data sidecars when there are
any) and one head update. Other databases (the embedded SQLite demo) take the ORM.
The portal's own trail, retention and erasure are to write through here too; the trail's
single event takes `head_append`, and every stored row is counted by `counts`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection

from agents_sdk.audit.chain import canonical_body
from obsportal.ingest import signals
from obsportal.ingest.counts import count_events
from obsportal.ingest.envelope import (
    COPY_COLUMNS,
    Canonicals,
    audit_event,
    copy_row,
    personal_data,
)
from obsportal.ingest.models import (
    AuditEvent,
    IntegrityIncident,
    PendingEvent,
    PersonalDatum,
    Stream,
)
from obsportal.ingest.subjects import event_keys


@dataclass
class Head:
    """A stream's head as locked for this batch, and what the batch changes about it."""

    id: str
    agent_id: str
    seq: int
    hash: str
    status: str
    pending_count: int
    changed: bool = False


# -- heads ------------------------------------------------------------------------------


def lock_heads(stream_ids: list[str]) -> dict[str, Head]:
    """Lock the heads of those of `stream_ids` that exist (in a transaction); in id
    order, so that two batches never deadlock."""
    return _select_heads_for_update(stream_ids)


def create_streams(agent_id: str, stream_ids: list[str]) -> None:
    """Create streams of `agent_id` (one created meanwhile by another batch is kept)."""
    Stream.objects.bulk_create(
        [Stream(id=stream_id, agent_id=agent_id) for stream_id in stream_ids],
        ignore_conflicts=True,
    )


def _select_heads_for_update(stream_ids: list[str]) -> dict[str, Head]:
    rows = (
        Stream.objects.select_for_update()
        .filter(id__in=stream_ids)
        .order_by("id")
        .values_list("id", "agent_id", "head_seq", "head_hash", "status", "pending_count")
    )
    return {row[0]: Head(*row) for row in rows}


def save_heads(heads: list[Head]) -> None:
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


# -- stored events ------------------------------------------------------------------------


def stored_hashes(keys: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The stored hash at each (stream, seq) of `keys` that has a row."""
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


def stored_position(event_ids: list[str]) -> tuple[Any, str, int] | None:
    """(event_id, stream, seq) of the first of `event_ids` already stored, if any."""
    return (
        AuditEvent.objects.filter(event_id__in=event_ids)
        .values_list("event_id", "stream_id", "seq")
        .first()
    )


def stored_event_id(event_ids: list[str]) -> tuple[Any, str, int] | None:
    """(event_id, stream, seq) of one of `event_ids` stored already, if any: admission's
    check, since no unique index spans the month partitions (ingest migration 0013).
    On PostgreSQL a function probes each partition's event_id index (never a seq scan of
    a month not analyzed yet); the ids go as one array literal (a list of 1,000 strings
    costs milliseconds to adapt, a UUID object per id ~2 µs an event)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM obsportal_stored_event_id(%s::uuid[])",
                # Admitted ids are canonical UUID text already (the envelope's check).
                ["{" + ",".join(event_ids) + "}"],
            )
            return cursor.fetchone()
    return (
        AuditEvent.objects.filter(event_id__in=event_ids)
        .order_by()
        .values_list("event_id", "stream_id", "seq")
        .first()
    )


def store_events(events: list[dict[str, Any]], canonicals: Canonicals | None = None) -> None:
    """Insert admitted events (and their personal-data sidecars), each with the canonical
    bytes it was hashed over: from `canonicals` where admission has them (the events of
    this batch), recomputed for events that waited for a gap."""
    canonicals = canonicals or {}
    texts = []
    for event in events:
        canonical = canonicals.get((event["stream"], event["seq"]))
        texts.append((canonical or canonical_body(event)).decode())
    if connection.vendor == "postgresql":
        _copy_events(events, texts)
    else:
        _bulk_create_events(events, texts)
    count_events(events)


def _copy_events(events: list[dict[str, Any]], texts: list[str]) -> None:
    """COPY the rows in (text format; psycopg escapes), then the sidecars joined by event_id."""
    received = datetime.now(UTC).isoformat()
    dumps = orjson.dumps
    sidecars: list[tuple[str, str, str, str, str | None]] = []
    with (
        connection.wrap_database_errors,
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY ingest_auditevent ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
    ):
        for event, text in zip(events, texts, strict=True):
            pii = event.get("pii")
            key, sidecar_keys = event_keys(event["user_id"], pii)
            copy.write_row(copy_row(event, text, received, key))
            if pii:
                for name, value, salt in personal_data(event):
                    sidecars.append(
                        (
                            event["event_id"],
                            name,
                            dumps(value).decode(),
                            salt,
                            sidecar_keys.get(name),
                        )
                    )
    if sidecars:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ingest_personaldatum (event_id, field, value, salt, subject_key)"
                " SELECT e.id, s.field, s.value, s.salt, s.subject_key"
                " FROM unnest(%s::uuid[], %s::text[], %s::jsonb[], %s::text[], %s::text[])"
                "   AS s(event_uuid, field, value, salt, subject_key)"
                " JOIN ingest_auditevent e ON e.event_id = s.event_uuid",
                [list(column) for column in zip(*sidecars, strict=True)],
            )


def _bulk_create_events(events: list[dict[str, Any]], texts: list[str]) -> None:
    keys = [event_keys(event["user_id"], event.get("pii")) for event in events]
    rows = [
        audit_event(event, text, key)
        for event, text, (key, _) in zip(events, texts, keys, strict=True)
    ]
    AuditEvent.objects.bulk_create(rows)
    sidecars = [
        PersonalDatum(
            event=row, field=name, value=value, salt=salt, subject_key=sidecar_keys.get(name)
        )
        for row, event, (_, sidecar_keys) in zip(rows, events, keys, strict=True)
        for name, value, salt in personal_data(event)
    ]
    if sidecars:
        PersonalDatum.objects.bulk_create(sidecars)


# -- waiting events ------------------------------------------------------------------------


def waiting_events(heads: list[Head]) -> dict[str, dict[int, dict[str, Any]]]:
    """The events parked ahead of a gap in these streams: stream -> seq -> event."""
    waiting: dict[str, dict[int, dict[str, Any]]] = {head.id: {} for head in heads}
    if heads:
        rows = PendingEvent.objects.filter(stream_id__in=list(waiting)).values_list(
            "stream_id", "seq", "payload"
        )
        for stream_id, seq, payload in rows:
            waiting[stream_id][seq] = orjson.loads(payload)
    return waiting


def park_events(parked: list[tuple[str, int, dict[str, Any]]]) -> None:
    """Keep (stream, seq, event) until the gap before them fills."""
    if parked:
        PendingEvent.objects.bulk_create(
            [
                PendingEvent(stream_id=s, seq=q, payload=orjson.dumps(e).decode())
                for s, q, e in parked
            ],
            ignore_conflicts=True,
        )


def release_waiting(stream_id: str, up_to_seq: int) -> None:
    """Drop the waiting events a stream's new head has admitted or superseded."""
    PendingEvent.objects.filter(stream_id=stream_id, seq__lte=up_to_seq).delete()


# -- incidents ----------------------------------------------------------------------------


def mark_stalled(agent_id: str, batch: Any) -> list[str]:
    """Mark the agent's streams named in a batch that could not be admitted."""
    events = batch.get("events") if isinstance(batch, dict) else None
    if not agent_id or not isinstance(events, list):
        return []
    names = {e.get("stream") for e in events if isinstance(e, dict)}
    streams = sorted(
        Stream.objects.filter(agent_id=agent_id, id__in=[n for n in names if isinstance(n, str)])
        .exclude(status=Stream.Status.STALLED)
        .values_list("id", flat=True)
    )
    Stream.objects.filter(id__in=streams).update(
        status=Stream.Status.STALLED, updated_at=datetime.now(UTC)
    )
    return streams


def record_forks(forks: list[tuple[Head, dict[str, Any], str]]) -> None:
    """One incident per distinct offered event (a shipper retrying the same fork adds
    none), and the forked streams marked so."""
    for head, event, stored_hash in forks:
        _, created = IntegrityIncident.objects.get_or_create(
            stream_id=head.id,
            seq=event["seq"],
            kind=IntegrityIncident.Kind.FORK,
            offered_hash=event["hash"],
            defaults={"stored_hash": stored_hash, "offered_event": event},
        )
        if created:  # on the portal's trail, in this transaction
            signals.integrity_incident.send(
                sender=IntegrityIncident,
                kind="fork",
                detail={
                    "stream": head.id,
                    "seq": event["seq"],
                    "stored_hash": stored_hash,
                    "offered_hash": event["hash"],
                },
            )
    Stream.objects.filter(id__in={head.id for head, _, _ in forks}).exclude(
        status=Stream.Status.FORKED
    ).update(status=Stream.Status.FORKED, updated_at=datetime.now(UTC))
