"""What went wrong, for the integrity pages and their API: incidents, dead letters, and the
streams and checkpoints a reader's scope allows.

Incidents are read from where they are kept, not copied into a table of their own:
- a fork: the refused candidate kept by ingestion (`ingest.IntegrityIncident`) beside the
  stored original at the same seq;
- a gap: a stream with events parked ahead of a missing range (`PendingEvent`);
- a checkpoint incident: a predecessor missing or differing when a checkpoint was signed;
- a finding: a stream whose newest verification result is not "verified" (a broken link,
  a gap in the stored rows, a checkpoint disagreement, a vanished stream).

Every read is narrowed to the reader's scope (accounts.scope): a scoped auditor meets only
the streams of its agents, and no incident that names no stream of theirs.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet

from obsportal.accounts.permissions import access_of, visible_streams
from obsportal.accounts.roles import Capability
from obsportal.ingest.envelope import as_envelope
from obsportal.ingest.models import (
    AuditEvent,
    IntegrityIncident,
    PendingEvent,
    RejectedBatch,
    Stream,
)
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointHead,
    CheckpointIncident,
    StreamVerification,
    VerificationRun,
)
from obsportal.integrity.selectors import streams_with_last_verification


def _trail_agent() -> str:
    from django.conf import settings

    return settings.OBSPORTAL_TRAIL_AGENT_ID


def _scoped_by_agent(rows: QuerySet, user: Any, agent_field: str) -> QuerySet:
    """Rows whose agent the user may read (the portal's own trail only with trail.read)."""
    access = access_of(user)
    rows = access.scope.filter_agents(rows, agent_field)
    if not access.can(Capability.TRAIL_READ):
        rows = rows.exclude(**{agent_field: _trail_agent()})
    return rows


def sees_everything(user: Any) -> bool:
    return access_of(user).scope.unlimited


# -- streams ----------------------------------------------------------------------------

# The states a stream list filters by: ingestion's own status, and the newest verification.
STREAM_STATES: dict[str, tuple[str, Q]] = {
    "verified": (
        "verified by its newest run, ingestion sees nothing wrong",
        Q(last_verification_status="verified", status="ok", pending_count=0),
    ),
    "broken": (
        "a link does not verify, or its rows are gone",
        Q(status="broken") | Q(last_verification_status__in=["broken", "missing"]),
    ),
    "forked": (
        "a different event was offered at a stored seq",
        Q(status="forked") | Q(last_verification_status="forked"),
    ),
    "waiting": ("events received ahead of a gap, waiting for it to fill", Q(pending_count__gt=0)),
    "stalled": ("a batch could not be admitted: the stream may not move", Q(status="stalled")),
    "incomplete": (
        "its newest run found events not yet admitted",
        Q(last_verification_status="incomplete"),
    ),
    "unverified": ("no verification run has covered it yet", Q(last_verification_status=None)),
}


class InvalidFilter(ValueError):
    """A filter value that is not one of the allowed; `errors` maps field to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def stream_list(user: Any, params: Mapping[str, Any]) -> QuerySet[Stream]:
    """Streams in the user's scope with their newest verification, filtered by `state`
    (one of STREAM_STATES) and `agent_id`, in id order."""
    streams = visible_streams(streams_with_last_verification(), user)
    state = params.get("state") or ""
    if state:
        if state not in STREAM_STATES:
            raise InvalidFilter({"state": f"one of {', '.join(STREAM_STATES)}"})
        streams = streams.filter(STREAM_STATES[state][1])
    if agent := params.get("agent_id"):
        streams = streams.filter(agent_id=agent)
    return streams


# The same states as STREAM_STATES, over (status, pending_count, newest verification status).
_STATE_TESTS = {
    "verified": lambda st, pending, v: v == "verified" and st == "ok" and pending == 0,
    "broken": lambda st, pending, v: st == "broken" or v in ("broken", "missing"),
    "forked": lambda st, pending, v: st == "forked" or v == "forked",
    "waiting": lambda st, pending, v: pending > 0,
    "stalled": lambda st, pending, v: st == "stalled",
    "incomplete": lambda st, pending, v: v == "incomplete",
    "unverified": lambda st, pending, v: v is None,
}


# Each stream's newest verification status, for every stream in a scope, in one pass: the
# newest full run's result (one scan of its rows) unless a later run (verify now) has one.
_STREAM_STATES_SQL = """
    WITH full_run AS (
        SELECT stream_id, status FROM integrity_streamverification WHERE run_id = %s
    ), later AS (
        SELECT DISTINCT ON (stream_id) stream_id, status FROM integrity_streamverification
        WHERE run_id > %s ORDER BY stream_id, id DESC
    )
    SELECT s.id, s.status, s.pending_count, COALESCE(l.status, f.status)
    FROM ingest_stream s
    LEFT JOIN full_run f ON f.stream_id = s.id
    LEFT JOIN later l ON l.stream_id = s.id
    WHERE s.id IN ({scope})
    ORDER BY s.id
"""


def stream_states(user: Any) -> list[tuple[str, str, int, str | None]]:
    """(id, ingest status, events waiting, newest verification status) of every stream in
    the user's scope, in id order."""
    from django.db import connection

    full = (
        VerificationRun.objects.filter(trigger__in=FULL_RUN_TRIGGERS)
        .exclude(status="running")
        .values_list("id", flat=True)
        .first()
    )
    scope_sql, scope_params = (
        visible_streams(Stream.objects.all(), user).order_by().values("id").query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _STREAM_STATES_SQL.format(scope=scope_sql),
            [full or 0, full or 0, *scope_params],
        )
        return cursor.fetchall()


def stream_state_counts(user: Any, states: list | None = None) -> dict[str, int]:
    """How many of the user's streams are in each state (each distinct combination of the
    three facts is tested once: there are a handful, however many streams)."""
    rows = states if states is not None else stream_states(user)
    combos = Counter((status, pending > 0, newest) for _, status, pending, newest in rows)
    counts = dict.fromkeys(["total", *STREAM_STATES], 0)
    for (status, waiting, newest), n in combos.items():
        counts["total"] += n
        for name, test in _STATE_TESTS.items():
            if test(status, int(waiting), newest):
                counts[name] += n
    return counts


def stream_page(
    user: Any, params: Mapping[str, Any], size: int, states: list | None = None
) -> Page:
    """A page of the streams list (`state`, `agent_id`, `after`/`before` by id), filtered
    over stream_states and then read with their newest verification."""
    state = params.get("state") or ""
    if state and state not in STREAM_STATES:
        raise InvalidFilter({"state": f"one of {', '.join(STREAM_STATES)}"})
    rows = states if states is not None else stream_states(user)
    if state:
        test, verdicts = _STATE_TESTS[state], {}
        ids = []
        for stream_id, status, pending, newest in rows:
            key = (status, pending > 0, newest)
            if key not in verdicts:
                verdicts[key] = test(status, int(pending > 0), newest)
            if verdicts[key]:
                ids.append(stream_id)
    else:
        ids = [row[0] for row in rows]
    if agent := params.get("agent_id"):
        of_agent = set(Stream.objects.filter(agent_id=agent).values_list("id", flat=True))
        ids = [i for i in ids if i in of_agent]
    after, before = params.get("after"), params.get("before")
    if before:
        earlier = [i for i in ids if i < before]
        chosen, more_before, more_after = earlier[-size:], len(earlier) > size, True
    else:
        later = [i for i in ids if i > after] if after else ids
        chosen, more_before, more_after = later[:size], bool(after), len(later) > size
    found = {s.id: s for s in streams_with_last_verification().filter(id__in=chosen)}
    shown = [found[i] for i in chosen if i in found]
    return Page(
        shown,
        after=shown[-1].id if shown and more_after else None,
        before=shown[0].id if shown and more_before else None,
    )


@dataclass(frozen=True)
class Page:
    """A keyset page: its rows and the keys of the pages before and after, if any."""

    rows: list[Any]
    after: Any = None
    before: Any = None


def keyset_page(
    rows: QuerySet, key: str, params: Mapping[str, Any], size: int, newest_first: bool = False
) -> Page:
    """One page of `rows` ordered by `key`, from `after=` or back from `before=`."""
    after, before = params.get("after"), params.get("before")
    forward_order, back_order = (f"-{key}", key) if newest_first else (key, f"-{key}")
    forward_cmp, back_cmp = ("lt", "gt") if newest_first else ("gt", "lt")
    if before not in (None, ""):
        chunk = list(rows.filter(**{f"{key}__{back_cmp}": before}).order_by(back_order)[: size + 1])
        more_before = len(chunk) > size
        chunk = list(reversed(chunk[:size]))
        page_after = getattr(chunk[-1], key) if chunk else None
        page_before = getattr(chunk[0], key) if chunk and more_before else None
        return Page(chunk, after=page_after, before=page_before)
    if after not in (None, ""):
        rows = rows.filter(**{f"{key}__{forward_cmp}": after})
    chunk = list(rows.order_by(forward_order)[: size + 1])
    more_after = len(chunk) > size
    chunk = chunk[:size]
    page_after = getattr(chunk[-1], key) if chunk and more_after else None
    page_before = getattr(chunk[0], key) if chunk and after not in (None, "") else None
    return Page(chunk, after=page_after, before=page_before)


# -- checkpoints ------------------------------------------------------------------------


def visible_checkpoints(user: Any) -> QuerySet[Checkpoint]:
    """Checkpoints the user may read: all of them, or for a scoped auditor those that sign a
    head of one of its streams, issued within its period (and the first one after it, which
    seals the period's end)."""
    checkpoints = Checkpoint.objects.all()
    scope = access_of(user).scope
    if scope.unlimited:
        return checkpoints
    in_scope_heads = CheckpointHead.objects.filter(
        checkpoint=OuterRef("pk"),
        stream_id__in=visible_streams(Stream.objects.all(), user).values("id"),
    )
    checkpoints = checkpoints.filter(Exists(in_scope_heads))
    if scope.since is not None:
        checkpoints = checkpoints.filter(issued_at__gte=scope.since)
    if scope.until is not None:
        sealing = (
            checkpoints.filter(issued_at__gte=scope.until).order_by("issued_at").values("pk")[:1]
        )
        checkpoints = checkpoints.filter(Q(issued_at__lt=scope.until) | Q(pk__in=sealing))
    return checkpoints


def checkpoint_heads_for(user: Any, checkpoint: Checkpoint) -> QuerySet[CheckpointHead]:
    """The heads a checkpoint signs that the user may see (all of them, unscoped)."""
    heads = checkpoint.heads.order_by("leaf_index")
    if sees_everything(user) and access_of(user).can(Capability.TRAIL_READ):
        return heads
    return heads.filter(stream_id__in=visible_streams(Stream.objects.all(), user).values("id"))


# -- incidents --------------------------------------------------------------------------

INCIDENT_KINDS = {
    "fork": "fork: a different event offered at a stored seq",
    "gap": "gap: events waiting ahead of a missing range",
    "checkpoint": "checkpoint chain: a predecessor missing or differing at signing",
    "finding": "finding: a stream's newest verification is not clean",
}


@dataclass(frozen=True)
class Incident:
    kind: str
    ref: str  # what the detail page is keyed by (a pk, or a stream id)
    stream_id: str | None
    agent_id: str | None
    detected_at: datetime | None
    summary: str


def forks(user: Any) -> QuerySet[IntegrityIncident]:
    return _scoped_by_agent(
        IntegrityIncident.objects.select_related("stream"), user, "stream__agent_id"
    ).order_by("-detected_at", "-id")


def gap_streams(user: Any) -> QuerySet[Stream]:
    """Streams holding events ahead of a gap, with the first waiting seq and when it came."""
    streams = visible_streams(Stream.objects.filter(pending_count__gt=0), user)
    return streams.annotate(
        first_waiting=Min("pending__seq"), waiting_since=Min("pending__received_at")
    ).order_by("-waiting_since", "id")


def checkpoint_incidents(user: Any) -> QuerySet[CheckpointIncident]:
    """Checkpoint chain incidents concern every stream at once: shown to unscoped readers only."""
    if not sees_everything(user):
        return CheckpointIncident.objects.none()
    return CheckpointIncident.objects.order_by("-detected_at", "-id")


_PROBLEM_STATES = ["broken", "forked", "missing", "incomplete"]
# Runs that walk every stream: beat's schedule and the demo's (verify now may cover one).
FULL_RUN_TRIGGERS = ("schedule", "demo")


def findings(user: Any) -> QuerySet[StreamVerification]:
    """The newest verification result of each stream in scope when it is not clean.

    Only results since the newest full run are candidates (every stream has one there),
    so the read stays as small as the streams with problems, however long the history;
    a result is a finding only if no newer result of its stream exists. A vanished stream
    (known from checkpoints only) is shown to unscoped readers."""
    since = (
        VerificationRun.objects.filter(trigger__in=FULL_RUN_TRIGGERS)
        .exclude(status="running")
        .values_list("id", flat=True)
        .first()
    )
    newer = StreamVerification.objects.filter(
        stream_id=OuterRef("stream_id"), id__gt=OuterRef("id")
    )
    rows = StreamVerification.objects.filter(status__in=_PROBLEM_STATES).filter(~Exists(newer))
    if since is not None:
        rows = rows.filter(run_id__gte=since)
    if not sees_everything(user) or not access_of(user).can(Capability.TRAIL_READ):
        in_scope = visible_streams(Stream.objects.all(), user).values("id")
        rows = rows.filter(stream_id__in=in_scope)
    return rows.select_related("run").order_by("-run__finished_at", "-id")


def _fork_incident(row: IntegrityIncident) -> Incident:
    return Incident(
        "fork",
        str(row.pk),
        row.stream_id,
        row.stream.agent_id,
        row.detected_at,
        f"seq {row.seq}: stored {row.stored_hash[:12]}…, refused {row.offered_hash[:12]}…",
    )


def _gap_incident(stream: Stream) -> Incident:
    first, last = stream.head_seq + 1, stream.first_waiting - 1
    return Incident(
        "gap",
        stream.id,
        stream.id,
        stream.agent_id,
        stream.waiting_since,
        f"seq {first}..{last} missing; {stream.pending_count} event(s) waiting after it",
    )


def _checkpoint_incident(row: CheckpointIncident) -> Incident:
    return Incident(
        "checkpoint",
        str(row.pk),
        None,
        None,
        row.detected_at,
        f"checkpoint {row.checkpoint_number}: {row.get_kind_display()}",
    )


def _finding_incident(row: StreamVerification) -> Incident:
    if row.first_break:
        what = f"seq {row.first_break.get('seq')}: {row.first_break.get('reason')}"
    elif row.checkpoint_disagreements:
        what = row.checkpoint_disagreements[0].get("reason", "disagrees with a checkpoint")
    elif row.forks:
        what = f"fork at seq {row.forks[0].get('seq')}"
    else:
        what = row.get_status_display()
    return Incident(
        "finding",
        str(row.pk),
        row.stream_id,
        None,
        row.run.finished_at,
        f"{row.status} in run {row.run_id}: {what}",
    )


def incidents(user: Any, params: Mapping[str, Any]) -> Iterator[Incident]:
    """Every incident in the user's scope, newest first; `kind`, `stream`, `agent_id` filter."""
    kind = params.get("kind") or ""
    if kind and kind not in INCIDENT_KINDS:
        raise InvalidFilter({"kind": f"one of {', '.join(INCIDENT_KINDS)}"})
    stream, agent = params.get("stream") or None, params.get("agent_id") or None
    sources: list[Iterable[Incident]] = []
    if kind in ("", "fork"):
        rows = forks(user)
        rows = rows.filter(stream_id=stream) if stream else rows
        rows = rows.filter(stream__agent_id=agent) if agent else rows
        sources.append(_fork_incident(r) for r in rows.iterator(chunk_size=200))
    if kind in ("", "gap"):
        rows = gap_streams(user)
        rows = rows.filter(id=stream) if stream else rows
        rows = rows.filter(agent_id=agent) if agent else rows
        sources.append(_gap_incident(s) for s in rows.iterator(chunk_size=200))
    if kind in ("", "checkpoint") and not stream and not agent:
        sources.append(
            _checkpoint_incident(r) for r in checkpoint_incidents(user).iterator(chunk_size=200)
        )
    if kind in ("", "finding"):
        rows = findings(user)
        rows = rows.filter(stream_id=stream) if stream else rows
        if agent:
            rows = rows.filter(stream_id__in=Stream.objects.filter(agent_id=agent).values("id"))
        sources.append(_finding_incident(r) for r in rows.iterator(chunk_size=200))
    return heapq.merge(*sources, key=_newest_first)


def _newest_first(incident: Incident) -> float:
    return -(incident.detected_at.timestamp() if incident.detected_at else 0.0)


def incident_page(user: Any, params: Mapping[str, Any], size: int) -> tuple[list[Incident], int]:
    """One page (`page=` from 1) of incidents, and the page number; `has more` is len > size."""
    try:
        number = max(int(params.get("page") or 1), 1)
    except ValueError:
        raise InvalidFilter({"page": "a page number from 1"}) from None
    chosen = []
    for index, incident in enumerate(incidents(user, params)):
        if index >= number * size + 1:
            break
        if index >= (number - 1) * size:
            chosen.append(incident)
    return chosen, number


def incident_counts(user: Any) -> dict[str, int]:
    return {
        "fork": forks(user).count(),
        "gap": gap_streams(user).count(),
        "checkpoint": checkpoint_incidents(user).count(),
        "finding": findings(user).count(),
    }


@dataclass(frozen=True)
class ForkSides:
    """A fork: the stored original and the refused candidate, field by field."""

    incident: IntegrityIncident
    original: dict[str, Any] | None
    candidate: dict[str, Any]
    fields: list[tuple[str, Any, Any, bool]]  # name, original, candidate, differs


ENVELOPE_ORDER = [
    "v",
    "event_id",
    "stream",
    "seq",
    "ts",
    "agent_id",
    "action",
    "result",
    "user_id",
    "resource",
    "details",
    "trace_id",
    "span_id",
    "pii_commitments",
    "prev_hash",
    "hash",
]


def fork_sides(user: Any, pk: int) -> ForkSides | None:
    incident = forks(user).filter(pk=pk).first()
    if incident is None:
        return None
    stored = AuditEvent.objects.filter(stream_id=incident.stream_id, seq=incident.seq).first()
    original = _in_envelope_order(as_envelope(stored)) if stored else None
    candidate = _in_envelope_order({k: v for k, v in incident.offered_event.items() if k != "pii"})
    names = [n for n in ENVELOPE_ORDER if n in candidate or (original and n in original)]
    names += sorted(set(candidate) - set(names))
    fields = []
    for name in names:
        left = original.get(name) if original else None
        right = candidate.get(name)
        fields.append((name, left, right, left != right))
    return ForkSides(incident, original, candidate, fields)


def _in_envelope_order(event: dict[str, Any]) -> dict[str, Any]:
    """The event's fields in the envelope's documented order, so two versions read alike."""
    ordered = {name: event[name] for name in ENVELOPE_ORDER if name in event}
    ordered.update((name, event[name]) for name in sorted(event) if name not in ordered)
    return ordered


@dataclass(frozen=True)
class Gap:
    stream: Stream
    first_missing: int
    last_missing: int
    waiting: list[PendingEvent]


def gap_of(user: Any, stream_id: str, shown: int = 50) -> Gap | None:
    stream = gap_streams(user).filter(id=stream_id).first()
    if stream is None:
        return None
    waiting = list(
        PendingEvent.objects.filter(stream_id=stream_id).order_by("seq").defer("payload")[:shown]
    )
    return Gap(stream, stream.head_seq + 1, stream.first_waiting - 1, waiting)


def finding_of(user: Any, pk: int) -> StreamVerification | None:
    row = StreamVerification.objects.select_related("run").filter(pk=pk).first()
    if row is None:
        return None
    known = Stream.objects.filter(pk=row.stream_id).first()
    if known is None:
        return row if sees_everything(user) else None
    if not visible_streams(Stream.objects.filter(pk=row.stream_id), user).exists():
        return None
    return row


# -- dead letters -----------------------------------------------------------------------


def dead_letters(user: Any, params: Mapping[str, Any]) -> QuerySet[RejectedBatch]:
    """Refused batches in the user's scope, filtered by `reason_code`, `agent_id`, `since`,
    `until` (a batch refused before its agent was known has none: unscoped readers only)."""
    from obsportal.params import read_moment

    rows = RejectedBatch.objects.all()
    if not sees_everything(user):
        rows = rows.exclude(agent_id="")
    rows = _scoped_by_agent(rows, user, "agent_id")
    if code := params.get("reason_code"):
        rows = rows.filter(reason_code=code)
    if agent := params.get("agent_id"):
        rows = rows.filter(agent_id=agent)
    for name, lookup in (("since", "gte"), ("until", "lt")):
        if text := params.get(name):
            try:
                rows = rows.filter(**{f"received_at__{lookup}": read_moment(text)})
            except ValueError as exc:
                raise InvalidFilter({name: str(exc)}) from None
    return rows


def dead_letter_reasons(user: Any) -> list[tuple[str, int]]:
    """The reason codes met so far, with how many batches each (for the filter)."""
    rows = dead_letters(user, {}).order_by().values_list("reason_code").annotate(n=Count("id"))
    return sorted(rows)


# -- verify now -------------------------------------------------------------------------


def stream_in_scope(user: Any, stream_id: str) -> bool:
    return visible_streams(Stream.objects.filter(pk=stream_id), user).exists()


def visible_verification_requests(user: Any) -> QuerySet:
    """Verify-now requests of the user's streams (the all-stream ones to unscoped readers)."""
    from obsportal.integrity.models import VerificationRequest

    rows = VerificationRequest.objects.select_related("run", "requested_by")
    if sees_everything(user) and access_of(user).can(Capability.TRAIL_READ):
        return rows
    return rows.filter(stream_id__in=visible_streams(Stream.objects.all(), user).values("id"))
