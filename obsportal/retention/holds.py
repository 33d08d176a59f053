"""Which active legal holds cover which events: the one answer pruning and erasure ask.

Retention's run stops a stream's prune below the first held event; the subjects app's
erasure skips held events and names the hold in its receipt. Both call the selectors
here, so a hold means the same thing to both.

A hold's scope (models.LegalHold): every non-empty dimension must match, any value
within one matches. Subjects match on the events' `subject_key` column (an HMAC of the
normalized identifier, hex). Until that column exists a hold naming subjects is read
as covering every event its other dimensions cover: a hold fails safe, never open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db.models import Q, QuerySet

from obsportal.ingest.models import AuditEvent
from obsportal.retention.models import LegalHold


@dataclass(frozen=True)
class HoldRef:
    """A hold as a skip or a refusal names it."""

    id: int
    name: str
    reason: str

    @classmethod
    def of(cls, hold: LegalHold) -> HoldRef:
        return cls(id=hold.pk, name=hold.name, reason=hold.reason)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "reason": self.reason}


@cache
def events_have_subject_key() -> bool:
    return any(f.name == "subject_key" for f in AuditEvent._meta.get_fields())


def active_holds() -> list[LegalHold]:
    return list(LegalHold.objects.filter(released_at__isnull=True).order_by("id"))


def hold_q(hold: LegalHold) -> Q:
    """The events `hold` covers, as a filter over AuditEvent."""
    q = Q()
    if hold.agents:
        q &= Q(agent_id__in=hold.agents)
    if hold.user_ids:
        q &= Q(user_id__in=hold.user_ids)
    if hold.streams:
        q &= Q(stream_id__in=hold.streams)
    if hold.subject_keys and events_have_subject_key():
        q &= Q(subject_key__in=[key.lower() for key in hold.subject_keys])
    if hold.ts_from is not None:
        q &= Q(ts__gte=hold.ts_from)
    if hold.ts_to is not None:
        q &= Q(ts__lte=hold.ts_to)
    return q


def held_q(holds: Iterable[LegalHold] | None = None) -> Q:
    """Events covered by any of `holds` (default: every active hold); matches none if none."""
    q = Q(pk__in=[])
    for hold in active_holds() if holds is None else holds:
        q |= hold_q(hold)
    return q


def hold_covers(hold: LegalHold, event: AuditEvent | Mapping[str, Any]) -> bool:
    """Whether `hold` covers one event (a row, or an envelope/mapping with its fields)."""

    def get(name: str) -> Any:
        if isinstance(event, Mapping):
            return event.get(name, event.get("stream") if name == "stream_id" else None)
        return getattr(event, name, None)

    if hold.agents and get("agent_id") not in hold.agents:
        return False
    if hold.user_ids and get("user_id") not in hold.user_ids:
        return False
    if hold.streams and get("stream_id") not in hold.streams:
        return False
    keys = {k.lower() for k in hold.subject_keys}
    if keys and events_have_subject_key() and (get("subject_key") or "").lower() not in keys:
        return False
    ts = get("ts")
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if hold.ts_from is not None and (ts is None or ts < hold.ts_from):
        return False
    return not (hold.ts_to is not None and (ts is None or ts > hold.ts_to))


def holds_covering_events(
    events: Iterable[AuditEvent | Mapping[str, Any]],
) -> dict[Any, list[HoldRef]]:
    """For each event (keyed by its pk, or `event_id` for a mapping) the holds covering it;
    events no hold covers are left out."""
    holds = active_holds()
    covered: dict[Any, list[HoldRef]] = {}
    for event in events:
        refs = [HoldRef.of(h) for h in holds if hold_covers(h, event)]
        if refs:
            key = event.get("event_id") if isinstance(event, Mapping) else event.pk
            covered[key] = refs
    return covered


def held_among(events: QuerySet[AuditEvent]) -> dict[int, list[HoldRef]]:
    """For a queryset of events (a subject's, a search's), the held ones: pk -> holds.

    One query per active hold, each bounded by `events`' own filter; erasure calls it
    with the subject's events and leaves every key it returns untouched."""
    covered: dict[int, list[HoldRef]] = {}
    for hold in active_holds():
        for pk in events.filter(hold_q(hold)).values_list("pk", flat=True).iterator():
            covered.setdefault(pk, []).append(HoldRef.of(hold))
    return covered


def holds_naming_subject(subject_key: str) -> list[HoldRef]:
    """Active holds placed on this subject by name (their `subject_keys` list it)."""
    key = subject_key.lower()
    return [HoldRef.of(h) for h in active_holds() if key in {k.lower() for k in h.subject_keys}]


def holds_covering_subject(subject_key: str) -> list[HoldRef]:
    """Active holds that cover at least one of the subject's events (by name or by scope)."""
    if not events_have_subject_key():
        return holds_naming_subject(subject_key)
    events = AuditEvent.objects.filter(subject_key=subject_key.lower())
    return [HoldRef.of(h) for h in active_holds() if events.filter(hold_q(h)).exists()]


def _could_cover_stream(hold: LegalHold, stream_id: str, agent_id: str | None) -> bool:
    if hold.streams and stream_id not in hold.streams:
        return False
    return not (hold.agents and agent_id is not None and agent_id not in hold.agents)


def first_held_in_range(
    stream_id: str, first_seq: int, last_seq: int, *, agent_id: str | None = None
) -> tuple[int, HoldRef] | None:
    """The lowest seq of first..last of a stream that an active hold covers, and that hold.

    A prune of the stream stops just below it: the chain is cut at its start, never holed.
    """
    best: tuple[int, HoldRef] | None = None
    for hold in active_holds():
        if not _could_cover_stream(hold, stream_id, agent_id):
            continue
        upper = last_seq if best is None else min(last_seq, best[0] - 1)
        if upper < first_seq:
            break
        seq = (
            AuditEvent.objects.filter(stream_id=stream_id, seq__gte=first_seq, seq__lte=upper)
            .filter(hold_q(hold))
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
        if seq is not None:
            best = (seq, HoldRef.of(hold))
    return best


def holds_covering_range(stream_id: str, first_seq: int, last_seq: int) -> list[HoldRef]:
    """Active holds covering at least one event of seq first..last of a stream."""
    events = AuditEvent.objects.filter(stream_id=stream_id, seq__gte=first_seq, seq__lte=last_seq)
    return [HoldRef.of(h) for h in active_holds() if events.filter(hold_q(h)).exists()]


def held_count_in_range(hold: LegalHold, stream_id: str, first_seq: int, last_seq: int) -> int:
    """How many events of seq first..last of a stream `hold` covers (the dry run's "kept")."""
    return (
        AuditEvent.objects.filter(stream_id=stream_id, seq__gte=first_seq, seq__lte=last_seq)
        .filter(hold_q(hold))
        .count()
    )
