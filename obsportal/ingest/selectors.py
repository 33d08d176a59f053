"""Reading stored audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from obsportal.ingest.models import AuditEvent, PendingEvent, Stream
from obsportal.ingest.services import format_ts


def events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.all()


def latest_events(limit: int = 100) -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("-ts", "-id")[:limit])


def as_envelope(event: AuditEvent) -> dict[str, Any]:
    """The stored event in envelope-v1 form, exactly the body its agent hashed plus `hash`."""
    return {
        "v": 1,
        "event_id": str(event.event_id),
        "stream": event.stream_id,
        "seq": event.seq,
        "ts": format_ts(event.ts),
        "agent_id": event.agent_id,
        "action": event.action,
        "result": event.result,
        "user_id": event.user_id,
        "resource": event.resource,
        "details": event.details,
        "trace_id": event.trace_id,
        "span_id": event.span_id,
        "pii_commitments": event.pii_commitments,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


@dataclass(frozen=True)
class UnfilledGap:
    """Events missing before a stream's waiting events, still missing after a grace period."""

    stream: str
    agent_id: str
    head_seq: int  # last admitted seq; the gap starts at head_seq + 1
    first_waiting_seq: int  # the gap ends just before this seq
    waiting: int  # how many events wait behind the gap
    waiting_since: datetime  # when the oldest of them arrived

    @property
    def missing(self) -> tuple[int, int]:
        """The missing seqs, first and last inclusive."""
        return self.head_seq + 1, self.first_waiting_seq - 1


def unfilled_gaps(older_than: timedelta = timedelta(minutes=10)) -> list[UnfilledGap]:
    """Streams whose waiting events have waited longer than `older_than` for a gap to fill.

    A shipper resends from its cursor, so a gap normally fills within seconds; one that
    does not is an event the journal lost or never shipped, and verification reports it.
    """
    cutoff = timezone.now() - older_than
    rows = (
        PendingEvent.objects.values("stream_id")
        .annotate(first_seq=Min("seq"), waiting=Count("id"), since=Min("received_at"))
        .filter(since__lt=cutoff)
        .order_by("stream_id")
    )
    streams = Stream.objects.in_bulk([row["stream_id"] for row in rows])
    return [
        UnfilledGap(
            stream=row["stream_id"],
            agent_id=streams[row["stream_id"]].agent_id,
            head_seq=streams[row["stream_id"]].head_seq,
            first_waiting_seq=row["first_seq"],
            waiting=row["waiting"],
            waiting_since=row["since"],
        )
        for row in rows
    ]
