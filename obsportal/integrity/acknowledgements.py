"""Acknowledging an incident: someone's word on record that it was looked at, and what was
done about it. It changes no verdict and hides no incident; it is on the trail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from obsportal.ingest import signals
from obsportal.ingest.models import AuditEvent
from obsportal.integrity.incidents import INCIDENT_KINDS, Incident, find_incident
from obsportal.integrity.models import IncidentAcknowledgement

NOTE_MAX_CHARACTERS = 2000
TRAIL_ACTION = "incident.acknowledge"


class AcknowledgementRefused(ValueError):
    """The acknowledgement was not made; the message says why."""


class UnknownIncident(LookupError):
    """No such incident in the caller's scope."""


class AlreadyAcknowledged(AcknowledgementRefused):
    """The incident has an acknowledgement already (one each: a later word is a new note
    on the case, not a second acknowledgement)."""


@dataclass(frozen=True)
class Acknowledgement:
    """An acknowledgement as shown: `on_trail` False when its row has no trail event that
    says the same (written into the table behind the portal's back)."""

    kind: str
    fingerprint: str
    summary: str
    note: str
    acknowledged_by: str
    acknowledged_at: datetime
    on_trail: bool


def acknowledge(user: Any, kind: str, ref: str, note: str) -> IncidentAcknowledgement:
    """Record `user`'s acknowledgement of the incident `kind`/`ref` with `note`, and its
    trail event, in one transaction."""
    note = note.strip()
    if kind not in INCIDENT_KINDS:
        raise AcknowledgementRefused(f"kind must be one of {', '.join(INCIDENT_KINDS)}")
    if not note:
        raise AcknowledgementRefused(
            "an acknowledgement needs a note: what was found, what was done"
        )
    if len(note) > NOTE_MAX_CHARACTERS:
        raise AcknowledgementRefused(f"the note is longer than {NOTE_MAX_CHARACTERS} characters")
    incident = find_incident(user, kind, ref)
    if incident is None:
        raise UnknownIncident(f"no {kind} incident {ref}")
    try:
        with transaction.atomic():
            row = IncidentAcknowledgement.objects.create(
                kind=kind,
                fingerprint=incident.fingerprint,
                summary=incident.summary,
                note=note,
                acknowledged_by=user,
            )
            signals.incident_acknowledged.send(
                sender=IncidentAcknowledgement,
                actor=user,
                target=row,
                detail=_trail_detail(row, incident),
            )
    except IntegrityError:
        raise AlreadyAcknowledged(f"this {kind} incident was acknowledged already") from None
    return row


def _trail_detail(row: IncidentAcknowledgement, incident: Incident) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "fingerprint": row.fingerprint,
        "stream": incident.stream_id,
        "summary": row.summary,
        "note": row.note,
    }


def acknowledgements_of(incidents: Iterable[Incident]) -> dict[tuple[str, str], Acknowledgement]:
    """The acknowledgements of `incidents`, by (kind, fingerprint), each checked against
    its trail event."""
    wanted = {(i.kind, i.fingerprint) for i in incidents}
    if not wanted:
        return {}
    rows = IncidentAcknowledgement.objects.filter(
        fingerprint__in={fingerprint for _, fingerprint in wanted}
    ).select_related("acknowledged_by")
    return _shown([row for row in rows if (row.kind, row.fingerprint) in wanted])


def acknowledgement_list() -> list[Acknowledgement]:
    """Every acknowledgement, newest first (for the API; they are few)."""
    rows = IncidentAcknowledgement.objects.select_related("acknowledged_by").order_by(
        "-acknowledged_at", "-id"
    )
    return list(_shown(list(rows)).values())


def as_shown(row: IncidentAcknowledgement) -> Acknowledgement:
    return _shown([row])[(row.kind, row.fingerprint)]


def _shown(rows: list[IncidentAcknowledgement]) -> dict[tuple[str, str], Acknowledgement]:
    on_trail = _trail_events(rows)
    return {
        (row.kind, row.fingerprint): Acknowledgement(
            kind=row.kind,
            fingerprint=row.fingerprint,
            summary=row.summary,
            note=row.note,
            acknowledged_by=row.acknowledged_by.get_username(),
            acknowledged_at=row.acknowledged_at,
            on_trail=on_trail.get(_resource(row)) == (row.kind, row.fingerprint, row.note),
        )
        for row in rows
    }


def _resource(row: IncidentAcknowledgement) -> str:
    return f"incidentacknowledgement:{row.pk}"


def _trail_events(rows: list[IncidentAcknowledgement]) -> dict[str, tuple[str, str, str]]:
    """resource -> (kind, fingerprint, note) of the trail events that recorded `rows`."""
    if not rows:
        return {}
    # The portal's own trail only: an agent's event named alike proves nothing.
    events = AuditEvent.objects.filter(
        agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID,
        action=TRAIL_ACTION,
        resource__in=[_resource(row) for row in rows],
    ).values_list("resource", "details")
    return {
        resource: (details.get("kind"), details.get("fingerprint"), details.get("note"))
        for resource, details in events
    }
