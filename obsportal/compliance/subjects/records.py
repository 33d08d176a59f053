"""What the portal holds about one data subject: their events and personal data, the
processing declared for them, the portal's consultations of them, their disclosures."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from obsportal.compliance.subjects.declarations import declaration_dict, declarations_of
from obsportal.ingest.envelope import format_ts
from obsportal.ingest.models import AuditEvent, PersonalDatum
from obsportal.trail.services import flush_trail

# HIPAA 164.528(a): an accounting covers the six years before the request.
ACCOUNTING_YEARS = 6
DISCLOSURE_ACTION = "disclosure"
DISCLOSURE_KEYS = ("recipient", "purpose", "description")


def subject_events(keys: list[str]) -> QuerySet[AuditEvent]:
    """Every event about the subject: its own key, or a sidecar of theirs (one index range
    per key and table)."""
    # The sidecar range is read first: `pk IN (subquery) OR ...` would plan as a pass over
    # every row with a hashed subplan; a list makes it a BitmapOr of two index ranges.
    via_sidecar = list(
        PersonalDatum.objects.filter(subject_key__in=keys).values_list("event_id", flat=True)
    )
    return AuditEvent.objects.filter(Q(subject_key__in=keys) | Q(pk__in=via_sidecar))


_PURPOSE_OF_ACTION = {
    "events.search": "search of audit events",
    "event.open": "an audit event opened",
    "evidence.download": "evidence export",
    "subject.export": "answering a data-subject request",
    "subject.request": "a data-subject request received",
    "subject.erasure": "erasure under a data-subject request",
}


def _roles_of(usernames: set[str]) -> dict[str, str]:
    from obsportal.accounts.models import RoleAssignment

    rows = RoleAssignment.objects.filter(user__username__in=usernames).values_list(
        "user__username", "role"
    )
    return {name: role.replace("_", " ") for name, role in rows}


def consultations(keys: list[str], event_ids: list[str]) -> list[dict[str, Any]]:
    """The portal's own consultations of the subject's data, from its trail: searches that
    named them (a sidecar of theirs) and openings of their events (CJEU C-579/21 Pankki S:
    dates, purposes; the role, not the name, of who consulted)."""
    flush_trail()  # this process's latest reads are among them
    trail = settings.OBSPORTAL_TRAIL_AGENT_ID
    named = list(
        PersonalDatum.objects.filter(subject_key__in=keys, event__agent_id=trail).values_list(
            "event_id", flat=True
        )
    )
    opened = [f"event_id:{event_id}" for event_id in event_ids]
    rows = (
        AuditEvent.objects.filter(agent_id=trail)
        .filter(Q(pk__in=named) | Q(action="event.open", resource__in=opened))
        .exclude(action__in=["subject.request", "subject.extend", "subject.erasure"])
        .order_by("ts", "id")
        .values_list("ts", "action", "user_id", "result")
    )
    rows = list(rows)
    roles = _roles_of({user for _, _, user, _ in rows if user})
    return [
        {
            "date": format_ts(ts),
            "action": action,
            "purpose": _PURPOSE_OF_ACTION.get(action, action),
            "role": roles.get(user, "portal user") if user else "the portal itself",
            "result": result,
        }
        for ts, action, user, result in rows
    ]


def _event_entry(row: AuditEvent, values: dict[str, Any]) -> dict[str, Any]:
    body = orjson.loads(row.canonical) if row.canonical else {}
    commitments = body.get("pii_commitments", row.pii_commitments) or {}
    return {
        "event_id": str(row.event_id),
        "stream": row.stream_id,
        "seq": row.seq,
        "ts": format_ts(row.ts),
        "agent_id": row.agent_id,
        "action": row.action,
        "result": row.result,
        "resource": row.resource,
        "details": body.get("details", row.details),
        "personal_data": values,
        "erased_fields": sorted(name for name in commitments if name not in values),
    }


def subject_data(keys: list[str], *, since: datetime | None = None) -> dict[str, Any]:
    """Everything the portal holds about one subject, as the export's content."""
    events = subject_events(keys).order_by("ts", "id")
    if since is not None:
        events = events.filter(ts__gte=since)
    rows = list(events.exclude(agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID))
    values: dict[int, dict[str, Any]] = defaultdict(dict)
    for event_pk, name, value in PersonalDatum.objects.filter(
        event_id__in=[r.pk for r in rows], subject_key__in=keys
    ).values_list("event_id", "field", "value"):
        values[event_pk][name] = value
    entries = [_event_entry(row, values.get(row.pk, {})) for row in rows]
    agents = {row.agent_id for row in rows}
    declared = declarations_of(agents)
    return {
        "events": entries,
        "processing": [declaration_dict(a, declared.get(a)) for a in sorted(agents)],
        "consultations": consultations(keys, [e["event_id"] for e in entries]),
    }


def is_disclosure(entry: dict[str, Any]) -> bool:
    """The SDK's convention (docs/subjects.md): action `disclosure`, or details naming a
    `recipient` and a `purpose`."""
    details = entry.get("details") or {}
    if entry.get("action") == DISCLOSURE_ACTION:
        return True
    return isinstance(details, dict) and "recipient" in details and "purpose" in details


def disclosures(keys: list[str], now: datetime | None = None) -> list[dict[str, Any]]:
    """HIPAA 164.528(b)(2): date, recipient, description, purpose; six years back."""
    now = now or timezone.now()
    since = now - timedelta(days=365 * ACCOUNTING_YEARS + 2)
    found = []
    for entry in subject_data(keys, since=since)["events"]:
        if not is_disclosure(entry):
            continue
        details = entry["details"] if isinstance(entry["details"], dict) else {}
        found.append(
            {
                "date": entry["ts"],
                "agent_id": entry["agent_id"],
                "recipient": details.get("recipient", entry.get("resource") or ""),
                "description": details.get("description", entry["action"]),
                "purpose": details.get("purpose", ""),
                "event_id": entry["event_id"],
            }
        )
    return found
