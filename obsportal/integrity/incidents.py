"""What went wrong, for the integrity pages and their API: incidents and dead letters
(the streams' states: `stream_states`; what a scope allows: `reader_scope`).

Incidents are read from where they are kept, not copied into a table of their own:
- a fork: the refused candidate kept by ingestion (`ingest.IntegrityIncident`) beside the
  stored original at the same seq;
- a gap: a stream with events parked ahead of a missing range (`PendingEvent`);
- a checkpoint incident: a predecessor missing or differing when a checkpoint was signed;
- a finding: a stream whose newest verification result is not "verified" (a broken link,
  a gap in the stored rows, a checkpoint disagreement, a vanished stream).

Every read is narrowed to the reader's scope (accounts.scope): a scoped auditor meets no
incident that names no stream of theirs.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, QuerySet

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
    CheckpointIncident,
    IncidentAcknowledgement,
    StreamVerification,
    VerificationRun,
)
from obsportal.integrity.reader_scope import (
    InvalidFilter,
    scoped_by_agent,
    sees_everything,
)
from obsportal.integrity.stream_states import FULL_RUN_TRIGGERS

# -- incidents --------------------------------------------------------------------------

INCIDENT_KINDS = {
    "fork": "fork: a different event offered at a stored seq",
    "gap": "gap: events waiting ahead of a missing range",
    "checkpoint": "checkpoint chain: a predecessor missing or differing at signing",
    "finding": "finding: a stream's newest verification is not clean",
}
INCIDENT_STATES = {
    "open": "not acknowledged yet",
    "acknowledged": "someone put on record that they looked at it",
}


@dataclass(frozen=True)
class Incident:
    kind: str
    ref: str  # what the detail page is keyed by (a pk, or a stream id)
    stream_id: str | None
    agent_id: str | None
    detected_at: datetime | None
    summary: str
    # What the incident is, for its acknowledgement: a fork or checkpoint incident is its
    # row; a gap its missing range; a finding its stream's problem, whichever run found it.
    fingerprint: str


def forks(user: Any) -> QuerySet[IntegrityIncident]:
    return scoped_by_agent(
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
        str(row.pk),
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
        _bounded(f"{stream.id} seq {first}..{last}"),
    )


def _checkpoint_incident(row: CheckpointIncident) -> Incident:
    return Incident(
        "checkpoint",
        str(row.pk),
        None,
        None,
        row.detected_at,
        f"checkpoint {row.checkpoint_number}: {row.get_kind_display()}",
        str(row.pk),
    )


def _finding_incident(row: StreamVerification) -> Incident:
    what = _finding_problem(row)
    return Incident(
        "finding",
        str(row.pk),
        row.stream_id,
        None,
        row.run.finished_at,
        f"{row.status} in run {row.run_id}: {what}",
        _bounded(f"{row.stream_id} {row.status}: {what}"),
    )


FINGERPRINT_MAX = 600  # IncidentAcknowledgement.fingerprint


def _bounded(fingerprint: str) -> str:
    """A fingerprint that fits its column: a long one keeps its start and a digest of all."""
    if len(fingerprint) <= FINGERPRINT_MAX:
        return fingerprint
    digest = hashlib.sha256(fingerprint.encode("utf-8", "backslashreplace")).hexdigest()
    return f"{fingerprint[: FINGERPRINT_MAX - 66]}… {digest}"


def _finding_problem(row: StreamVerification) -> str:
    if row.first_break:
        what = f"seq {row.first_break.get('seq')}: {row.first_break.get('reason')}"
    elif row.checkpoint_disagreements:
        what = row.checkpoint_disagreements[0].get("reason", "disagrees with a checkpoint")
    elif row.forks:
        what = f"fork at seq {row.forks[0].get('seq')}"
    else:
        what = row.get_status_display()
    return what


def incidents(user: Any, params: Mapping[str, Any]) -> Iterator[Incident]:
    """Every incident in the user's scope, newest first; `kind`, `stream`, `agent_id` and
    `state` (open, acknowledged) filter."""
    kind = params.get("kind") or ""
    if kind and kind not in INCIDENT_KINDS:
        raise InvalidFilter({"kind": f"one of {', '.join(INCIDENT_KINDS)}"})
    state = params.get("state") or ""
    if state and state not in INCIDENT_STATES:
        raise InvalidFilter({"state": f"one of {', '.join(INCIDENT_STATES)}"})
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
    merged = heapq.merge(*sources, key=_newest_first)
    if not state:
        return merged
    acknowledged = set(IncidentAcknowledgement.objects.values_list("kind", "fingerprint"))
    wanted = state == "acknowledged"
    return (i for i in merged if ((i.kind, i.fingerprint) in acknowledged) == wanted)


def find_incident(user: Any, kind: str, ref: str) -> Incident | None:
    """The incident `kind` keyed `ref` (its detail page's key), if the user's scope shows it."""
    if kind in ("fork", "checkpoint", "finding") and not (
        ref.isascii() and ref.isdigit() and len(ref) <= 18
    ):
        return None
    if kind == "fork":
        fork = forks(user).filter(pk=int(ref)).first()
        return _fork_incident(fork) if fork else None
    if kind == "gap":
        stream = gap_streams(user).filter(id=ref).first()
        return _gap_incident(stream) if stream else None
    if kind == "checkpoint":
        row = checkpoint_incidents(user).filter(pk=int(ref)).first()
        return _checkpoint_incident(row) if row else None
    if kind == "finding":
        finding = findings(user).filter(pk=int(ref)).first()
        return _finding_incident(finding) if finding else None
    return None


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
    rows = scoped_by_agent(rows, user, "agent_id")
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
