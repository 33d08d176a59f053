"""Reading stored audit events and the waiting rooms of their streams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone

from obsportal.accounts.permissions import visible_events
from obsportal.events.filters import AuditEventFilter
from obsportal.ingest.models import AuditEvent, PendingEvent, Stream

# Newest first; (ts, id) ends every filter's index, so a filtered page needs no sort.
NEWEST_FIRST = ("-ts", "-id")
# The other way along the same indexes (a forward scan): `order=oldest`.
OLDEST_FIRST = ("ts", "id")
ORDERINGS = {"newest": NEWEST_FIRST, "oldest": OLDEST_FIRST}


def ordering_of(params: Mapping[str, Any]) -> tuple[str, str]:
    """The sort a query asks for (`order`); the filter has already refused any other value."""
    return ORDERINGS.get(params.get("order") or "newest", NEWEST_FIRST)


class InvalidEventQuery(ValueError):
    """A search whose parameters do not parse; `errors` says which and why, per field."""

    def __init__(self, errors: Mapping[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = dict(errors)


def events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.all()


def search_events(params: Mapping[str, Any], user: Any) -> QuerySet[AuditEvent]:
    """The events `user` may read that match `params` (AuditEventFilter's fields), sorted
    by `order` (newest first by default); the portal's own trail only when asked for by its
    agent_id, to a trail reader. The events page, its exports and the API all call this."""
    requested = params.get("agent_id")
    if requested is None and params.get("stream"):
        # One named stream asks for its agent's events: `agents-sdk verify --against`
        # crosschecks a trail journal by its stream alone.
        requested = (
            Stream.objects.filter(pk=params["stream"]).values_list("agent_id", flat=True).first()
        )
    visible = visible_events(events(), user, requested)
    query = AuditEventFilter(params, queryset=visible)
    if not query.is_valid():
        raise InvalidEventQuery({k: [str(m) for m in v] for k, v in query.errors.items()})
    found = query.qs
    agents = params.getlist("agent_id") if hasattr(params, "getlist") else [requested]
    if requested is not None and len(agents) <= 1:
        found = clamped_to_newest(found, requested, query.form.cleaned_data.get("until"))
    return found.order_by(*ordering_of(params))


def clamped_to_newest(
    found: QuerySet[AuditEvent], agent_id: str, until: datetime | None
) -> QuerySet[AuditEvent]:
    """`found` bounded by `agent_id`'s newest event (before `until`): the same rows.

    Why: newest first, PostgreSQL walks the time index (perfectly correlated with the
    table) and filters the agent row by row, costed as if the agent's events were spread
    evenly over time. For an agent holding half the rows but quiet lately, that reads
    every other agent's recent rows first (issue #11: ~460k filtered for 51 shown). Its
    newest time is one probe of the (agent_id, ts, id) index; from there on the walk
    meets its events at once (benchmarks/api_events.py --skew).
    """
    newest = AuditEvent.objects.filter(agent_id=agent_id)
    if until is not None:
        newest = newest.filter(ts__lt=until)
    latest = newest.order_by("-ts").values_list("ts", flat=True).first()
    if latest is None:
        return found.none()
    return found.filter(ts__lte=latest)


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


# -- one event -------------------------------------------------------------------------

# Links of the chain from an event to the head a checkpoint signed, put into its proof
# file when there are at most this many; past that the evidence bundle is the proof.
PROOF_LINKS_MAX = 10_000
TRACE_EVENTS_SHOWN = 50


@dataclass(frozen=True)
class PersonalField:
    """One personal-data field of an event: its commitment, and its value unless erased."""

    name: str
    commitment: str
    erased: bool
    value: Any = None


@dataclass(frozen=True)
class EventDetail:
    event: AuditEvent
    previous: Neighbour | None  # seq - 1 of the same stream, when the reader may see it
    next: Neighbour | None
    head_seq: int | None  # the stream's head now
    personal: list[PersonalField]
    verification: Any  # the latest finished StreamVerification of its stream, or None
    verified: bool  # that verification covers this event's seq
    checkpoint_head: Any  # the first CheckpointHead at or past this seq, or None
    same_trace: list[AuditEvent]


def readable_event(event_id: Any, user: Any) -> AuditEvent | None:
    """The event with that id if `user` may read it (a trail event too, to a trail reader)."""
    from django.conf import settings

    trail = settings.OBSPORTAL_TRAIL_AGENT_ID
    return visible_events(events(), user, trail).filter(event_id=event_id).first()


def event_detail(event_id: Any, user: Any) -> EventDetail | None:
    """Everything the event page shows of one event; None when `user` may not read it.

    Each part is one lookup on an index (stream and seq, the stream's verifications, the
    checkpoint heads by stream and seq, the trace), so its cost does not grow with the table.
    """
    from django.conf import settings

    from obsportal.integrity.models import CheckpointHead, StreamVerification

    visible = visible_events(events(), user, settings.OBSPORTAL_TRAIL_AGENT_ID)
    # The neighbours and the stream's head come with the event, in one query.
    same_stream = visible.filter(stream_id=OuterRef("stream_id"))
    neighbour = {
        f"{side}_{column}": Subquery(
            same_stream.filter(seq=OuterRef("seq") + step).values(column)[:1]
        )
        for side, step in (("previous", -1), ("next", 1))
        for column in ("event_id", "hash")
    }
    event = (
        visible.filter(event_id=event_id)
        .annotate(
            **neighbour,
            stream_head_seq=Subquery(
                Stream.objects.filter(pk=OuterRef("stream_id")).values("head_seq")[:1]
            ),
        )
        .first()
    )
    if event is None:
        return None
    sidecar = {}
    if event.pii_commitments:  # no sidecar to read for an event without personal data
        sidecar = {d.field: d.value for d in event.personal_data.all()}
    personal = [
        PersonalField(name, commitment, name not in sidecar, sidecar.get(name))
        for name, commitment in sorted((event.pii_commitments or {}).items())
    ]
    verification = (
        StreamVerification.objects.filter(stream_id=event.stream_id, run__finished_at__isnull=False)
        .select_related("run")
        .order_by("-id")
        .first()
    )
    verified = bool(
        verification
        and verification.verified_from is not None
        and verification.verified_from <= event.seq <= (verification.verified_to or -1)
    )
    checkpoint_head = (
        CheckpointHead.objects.filter(stream_id=event.stream_id, seq__gte=event.seq)
        .select_related("checkpoint")
        .order_by("seq", "checkpoint__number")
        .first()
    )
    same_trace = []
    if event.trace_id:
        same_trace = list(
            visible.filter(trace_id=event.trace_id)
            .exclude(pk=event.pk)
            .order_by("ts", "id")[:TRACE_EVENTS_SHOWN]
        )
    return EventDetail(
        event=event,
        previous=_neighbour(event, "previous", -1),
        next=_neighbour(event, "next", 1),
        head_seq=event.stream_head_seq,
        personal=personal,
        verification=verification,
        verified=verified,
        checkpoint_head=checkpoint_head,
        same_trace=same_trace,
    )


@dataclass(frozen=True)
class Neighbour:
    event_id: Any
    seq: int
    hash: str


def _neighbour(event: AuditEvent, side: str, step: int) -> Neighbour | None:
    event_id = getattr(event, f"{side}_event_id")
    if event_id is None:
        return None
    return Neighbour(event_id, event.seq + step, getattr(event, f"{side}_hash"))


class NotCovered(LookupError):
    """No signed checkpoint covers the event yet."""


def inclusion_proof(detail: EventDetail) -> dict[str, Any]:
    """The proof that a checkpoint covers the event: the RFC 6962 inclusion proof of its
    stream's head in the checkpoint, the signed note, and the chain's links from the
    event to that head (each link's hash and prev_hash), so that a reader can check the
    event is an ancestor of a signed head."""
    from obsportal.ingest.envelope import as_envelope_json
    from obsportal.integrity.checkpoints import inclusion_proof_of

    head = detail.checkpoint_head
    if head is None:
        raise NotCovered(f"no signed checkpoint covers {detail.event.stream_id}#{detail.event.seq}")
    event = detail.event
    checkpoint = head.checkpoint
    proof: dict[str, Any] = {
        "event_id": str(event.event_id),
        "stream": event.stream_id,
        "seq": event.seq,
        "hash": event.hash,
        "event": orjson_loads(as_envelope_json(event)),
        "checkpoint": checkpoint.number,
        "checkpoint_note": checkpoint.note,
        "head_inclusion": inclusion_proof_of(checkpoint, event.stream_id),
    }
    span = head.seq - event.seq
    if span <= PROOF_LINKS_MAX:
        proof["links"] = list(
            AuditEvent.objects.filter(
                stream_id=event.stream_id, seq__gte=event.seq, seq__lte=head.seq
            )
            .order_by("seq")
            .values("seq", "prev_hash", "hash")
        )
    else:
        proof["links"] = None
        proof["links_omitted"] = (
            f"{span} links from the event to the signed head: download an evidence bundle "
            "of the stream for the complete chain"
        )
    return proof


def orjson_loads(data: bytes | str) -> Any:
    import orjson

    return orjson.loads(data)
