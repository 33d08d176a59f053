"""Reading stored audit events and the waiting rooms of their streams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from obsportal.accounts.permissions import visible_events
from obsportal.events.filters import AuditEventFilter
from obsportal.ingest.models import AuditEvent, PendingEvent, Stream

# Newest first; (ts, id) ends every filter's index, so a filtered page needs no sort.
NEWEST_FIRST = ("-ts", "-id")


class InvalidEventQuery(ValueError):
    """A search whose parameters do not parse; `errors` says which and why, per field."""

    def __init__(self, errors: Mapping[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = dict(errors)


def events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.all()


def search_events(params: Mapping[str, Any], user: Any) -> QuerySet[AuditEvent]:
    """The events `user` may read that match `params` (AuditEventFilter's fields), newest
    first; the portal's own trail only when asked for by its agent_id, to a trail reader."""
    visible = visible_events(events(), user, params.get("agent_id"))
    query = AuditEventFilter(params, queryset=visible)
    if not query.is_valid():
        raise InvalidEventQuery({k: [str(m) for m in v] for k, v in query.errors.items()})
    return query.qs.order_by(*NEWEST_FIRST)


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
