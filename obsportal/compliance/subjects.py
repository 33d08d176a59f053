"""Data-subject requests: access (GDPR Art. 15), erasure (Art. 17) and the HIPAA 164.528
accounting of disclosures, each with its legal deadline and its records on the trail.

Invariants:

- A request is on the portal's trail when it is received (`subject.request`), and an
  export is recorded before it is built (`subject.export`), so a consultation of a
  person's data can never happen off the record.
- The trail names a request by its id and never the person: no identifier and no
  subject key enters a hashed body (both are personal data; they stay in the request
  row and in the unhashed key columns).
- Erasure deletes sidecar values only, through the database door, in one transaction
  with its signed receipt (`subject.erasure`): counts, exceptions and every erased
  (stream, seq, field). Verification reads the receipt; a missing sidecar no receipt
  names is tampering. A held event (legal hold) and an event under a statutory floor
  (the agent's declaration) keep their values, and the receipt says which and why.
"""

from __future__ import annotations

import base64
import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents_sdk.offline.erasure import RECEIPT_ACTION, receipt_statement
from obsportal.compliance.models import AgentDeclaration, SubjectRequest
from obsportal.ingest.audit_door import erase_personal_data
from obsportal.ingest.envelope import format_ts
from obsportal.ingest.models import AuditEvent, PersonalDatum
from obsportal.ingest.subjects import subject_key
from obsportal.integrity.signing import load_signing_key
from obsportal.retention.holds import held_among
from obsportal.trail.services import _request_changes, actor_name
from obsportal.trail.services import record_trail as _record_trail

# GDPR Art. 12(3): one month, extendable by two further months with reasons.
# HIPAA 164.528(c)(1): 60 days, extendable once by 30 with a written statement.
GDPR_EXTENSION_MONTHS = 2
HIPAA_DAYS, HIPAA_EXTENSION_DAYS = 60, 30
# HIPAA 164.528(a): an accounting covers the six years before the request.
ACCOUNTING_YEARS = 6
DISCLOSURE_ACTION = "disclosure"
DISCLOSURE_KEYS = ("recipient", "purpose", "description")


class RequestRefused(Exception):
    """A request that cannot be made or changed as asked; the message says why."""


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def initial_deadline(framework: str, received_at: datetime) -> datetime:
    if framework == SubjectRequest.Framework.HIPAA:
        return received_at + timedelta(days=HIPAA_DAYS)
    return _add_months(received_at, 1)


def extended_deadline(framework: str, due_at: datetime) -> datetime:
    if framework == SubjectRequest.Framework.HIPAA:
        return due_at + timedelta(days=HIPAA_EXTENSION_DAYS)
    return _add_months(due_at, GDPR_EXTENSION_MONTHS)


def record_trail(action: str, **fields: Any) -> dict[str, Any]:
    """The trail record of a change, noted for the request's middleware, which then adds no
    second event for the same request (as `record_change` does for roles)."""
    event = _record_trail(action, **fields)
    changes = _request_changes.get()
    if changes is not None:
        changes.append(action)
    return event


def _request_details(request: SubjectRequest) -> dict[str, Any]:
    return {
        "request": str(request.id),
        "reference": request.reference,
        "kind": request.kind,
        "framework": request.framework,
        "due": format_ts(request.deadline),
    }


# -- requests -----------------------------------------------------------------------------


def create_request(
    *,
    kind: str,
    identifier: str,
    framework: str | None = None,
    legal_ground: str = "",
    received_at: datetime | None = None,
    actor: Any = None,
) -> SubjectRequest:
    """Record a request and its deadline, on the trail in the same transaction."""
    if kind not in SubjectRequest.Kind.values:
        raise RequestRefused(f"{kind!r} is not a kind of request")
    identifiers = split_identifiers(identifier)
    if not identifiers:
        raise RequestRefused("a request names its data subject (one identifier or more)")
    if framework is None:
        framework = "hipaa" if kind == SubjectRequest.Kind.ACCOUNTING else "gdpr"
    if framework not in SubjectRequest.Framework.values:
        raise RequestRefused(f"{framework!r} is not a framework of subject requests")
    if kind == SubjectRequest.Kind.ERASURE and not legal_ground.strip():
        raise RequestRefused("an erasure names its legal ground (e.g. Art. 17(1)(a))")
    received = received_at or timezone.now()
    with transaction.atomic():
        request = SubjectRequest.objects.create(
            kind=kind,
            framework=framework,
            identifier=", ".join(identifiers),
            subject_key=subject_key(identifiers[0]),
            subject_keys=sorted({subject_key(i) for i in identifiers}),
            legal_ground=legal_ground.strip(),
            received_at=received,
            due_at=initial_deadline(framework, received),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record_trail(
            "subject.request",
            actor=actor_name(actor),
            resource=f"subject_request:{request.id}",
            details={**_request_details(request), "legal_ground": request.legal_ground},
        )
    return request


def split_identifiers(text: str) -> list[str]:
    """The identifiers of one person, given comma- or newline-separated."""
    seen: list[str] = []
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def keys_of(request: SubjectRequest) -> list[str]:
    return list(request.subject_keys) or [request.subject_key]


def extend_request(request: SubjectRequest, reason: str, actor: Any = None) -> SubjectRequest:
    """Extend the deadline once (GDPR by two months, HIPAA by 30 days), with a reason."""
    if request.extended_due_at is not None:
        raise RequestRefused(f"request {request.reference} was extended already")
    if not reason.strip():
        raise RequestRefused("an extension states its reason (GDPR Art. 12(3), HIPAA 164.528)")
    if request.status == SubjectRequest.Status.COMPLETED:
        raise RequestRefused(f"request {request.reference} is completed")
    with transaction.atomic():
        request.extended_due_at = extended_deadline(request.framework, request.due_at)
        request.extension_reason = reason.strip()
        request.save(update_fields=["extended_due_at", "extension_reason"])
        record_trail(
            "subject.extend",
            actor=actor_name(actor),
            resource=f"subject_request:{request.id}",
            details={**_request_details(request), "reason": request.extension_reason},
        )
    return request


def declare_processing(values: dict[str, Any], actor: Any = None) -> AgentDeclaration:
    """Declare (or replace) an agent's record of processing (GDPR Art. 30), on the trail."""
    with transaction.atomic():
        declared, created = AgentDeclaration.objects.update_or_create(
            agent_id=values["agent_id"],
            defaults={k: v for k, v in values.items() if k != "agent_id"},
        )
        record_trail(
            "declaration.change",
            actor=actor_name(actor),
            resource=f"agent:{declared.agent_id}",
            details={
                "created": created,
                "purposes": declared.purposes,
                "recipients": declared.recipients,
                "categories": declared.categories,
                "legal_basis": declared.legal_basis,
                "retention_floor_days": declared.retention_floor_days,
                "floor_source": declared.floor_source,
            },
        )
    return declared


def open_requests() -> QuerySet[SubjectRequest]:
    return SubjectRequest.objects.exclude(status=SubjectRequest.Status.COMPLETED)


def overdue_requests(now: datetime | None = None) -> list[SubjectRequest]:
    """Requests past their (possibly extended) deadline and not completed."""
    now = now or timezone.now()
    return [r for r in open_requests().order_by("due_at") if r.deadline < now]


def request_counts(now: datetime | None = None) -> dict[str, int]:
    """For the overview and the metric: open, overdue, due within a week."""
    now = now or timezone.now()
    pending = list(open_requests())
    return {
        "open": len(pending),
        "overdue": sum(r.deadline < now for r in pending),
        "due_within_7_days": sum(now <= r.deadline < now + timedelta(days=7) for r in pending),
    }


# -- the subject's data -------------------------------------------------------------------


def subject_events(keys: list[str]) -> QuerySet[AuditEvent]:
    """Every event about the subject: its own key, or a sidecar of theirs (one index range
    per key and table)."""
    # The sidecar range is read first: `pk IN (subquery) OR ...` would plan as a pass over
    # every row with a hashed subplan; a list makes it a BitmapOr of two index ranges.
    via_sidecar = list(
        PersonalDatum.objects.filter(subject_key__in=keys).values_list("event_id", flat=True)
    )
    return AuditEvent.objects.filter(Q(subject_key__in=keys) | Q(pk__in=via_sidecar))


def _declarations(agent_ids: set[str]) -> dict[str, AgentDeclaration]:
    return {d.agent_id: d for d in AgentDeclaration.objects.filter(agent_id__in=agent_ids)}


def _declaration_dict(agent_id: str, d: AgentDeclaration | None) -> dict[str, Any]:
    if d is None:
        return {"agent_id": agent_id, "declared": False}
    return {
        "agent_id": agent_id,
        "declared": True,
        "purposes": d.purposes,
        "recipients": d.recipients,
        "categories": d.categories,
        "legal_basis": d.legal_basis,
        "retention": (
            f"{d.retention_floor_days} days ({d.floor_source})" if d.retention_floor_days else ""
        ),
    }


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
    declared = _declarations(agents)
    return {
        "events": entries,
        "processing": [_declaration_dict(a, declared.get(a)) for a in sorted(agents)],
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


# -- exports ------------------------------------------------------------------------------


def request_export(request: SubjectRequest, actor: Any = None) -> SubjectRequest:
    """Record the export on the trail, then queue its build once committed."""
    from obsportal.compliance.tasks import build_subject_export

    if request.kind not in (SubjectRequest.Kind.ACCESS, SubjectRequest.Kind.ACCOUNTING):
        raise RequestRefused(f"request {request.reference} is an erasure: nothing to export")
    with transaction.atomic():
        record_trail(
            "subject.export",
            actor=actor_name(actor),
            resource=f"subject_request:{request.id}",
            details=_request_details(request),
        )
        SubjectRequest.objects.filter(pk=request.pk).update(
            status=SubjectRequest.Status.IN_PROGRESS
        )
        transaction.on_commit(lambda: build_subject_export.delay(str(request.pk)))
    request.refresh_from_db()
    return request


def build_export(request_id: str) -> SubjectRequest:
    """Build the JSON, CSV and PDF of an access or accounting request (the Celery job)."""
    from obsportal.compliance.renderers import subject_export as renderers

    request = SubjectRequest.objects.get(pk=request_id)
    if request.status == SubjectRequest.Status.COMPLETED and request.files:
        return request  # a redelivered task
    try:
        content = export_content(request)
        request.files = renderers.write_all(request, content)
        request.outcome = {
            "events": len(content.get("events", [])),
            "disclosures": len(content.get("disclosures", [])),
            "consultations": len(content.get("consultations", [])),
        }
        request.status = SubjectRequest.Status.COMPLETED
        request.completed_at = timezone.now()
    except Exception as exc:
        request.status, request.error = SubjectRequest.Status.FAILED, f"{type(exc).__name__}: {exc}"
        request.save()
        raise
    request.save()
    return request


def export_content(request: SubjectRequest) -> dict[str, Any]:
    cover = {
        "request": str(request.id),
        "reference": request.reference,
        "kind": request.kind,
        "framework": request.framework,
        "subject": request.identifier,
        "received_at": format_ts(request.received_at),
        "due": format_ts(request.deadline),
        "generated_at": format_ts(timezone.now()),
        "controller": getattr(settings, "OBSPORTAL_CONTROLLER_NAME", "the portal's operator"),
    }
    if request.kind == SubjectRequest.Kind.ACCOUNTING:
        return {"cover": cover, "disclosures": disclosures(keys_of(request))}
    return {"cover": cover, **subject_data(keys_of(request))}


# -- erasure ------------------------------------------------------------------------------


@dataclass
class _Target:
    event_pk: int
    stream: str
    seq: int
    agent_id: str
    ts: datetime
    field: str


def _holds_of(targets: list[_Target]) -> dict[int, dict[str, Any]]:
    """event pk -> the (first) legal hold that keeps it, from retention's holds selector."""
    events = AuditEvent.objects.filter(pk__in=sorted({t.event_pk for t in targets}))
    return {pk: refs[0].as_dict() for pk, refs in held_among(events).items() if refs}


def _floor_of(target: _Target, declared: dict[str, AgentDeclaration], now: datetime) -> str | None:
    d = declared.get(target.agent_id)
    if d is None or not d.retention_floor_days:
        return None
    if target.ts > now - timedelta(days=d.retention_floor_days):
        return d.floor_source or f"{d.retention_floor_days} days"
    return None


def _sign(details: dict[str, Any]) -> dict[str, Any]:
    key = load_signing_key()
    signed = {**details, "key_id": key.key_id}
    signature = key.private.sign(receipt_statement(signed))
    return {**signed, "signature": base64.b64encode(signature).decode()}


def erase_subject(request: SubjectRequest, actor: Any = None) -> SubjectRequest:
    """Delete the subject's sidecar values (held and floor-bound ones aside) and leave the
    signed receipt on the trail, in one transaction."""
    if request.kind != SubjectRequest.Kind.ERASURE:
        raise RequestRefused(f"request {request.reference} is not an erasure")
    if request.status == SubjectRequest.Status.COMPLETED:
        return request
    now = timezone.now()
    with transaction.atomic():
        request = SubjectRequest.objects.select_for_update().get(pk=request.pk)
        rows = PersonalDatum.objects.filter(subject_key__in=keys_of(request)).values_list(
            "event_id", "event__stream_id", "event__seq", "event__agent_id", "event__ts", "field"
        )
        targets = [_Target(*row) for row in rows]
        holds = _holds_of(targets)
        declared = _declarations({t.agent_id for t in targets})
        erase: dict[str, list[_Target]] = defaultdict(list)
        kept_held: dict[str, dict[str, Any]] = {}
        kept_floor: dict[str, int] = defaultdict(int)
        held_events, floor_events = set(), set()
        for target in targets:
            hold = holds.get(target.event_pk)
            if hold is not None:
                entry = kept_held.setdefault(str(hold["id"]), {**hold, "fields": 0})
                entry["fields"] += 1
                held_events.add(target.event_pk)
                continue
            floor = _floor_of(target, declared, now)
            if floor is not None:
                kept_floor[floor] += 1
                floor_events.add(target.event_pk)
                continue
            erase[target.field].append(target)
        removed = 0
        # One door call per field name: the door deletes (events x fields), and another
        # person's field of the same event must survive.
        for name, group in sorted(erase.items()):
            removed += erase_personal_data(sorted({t.event_pk for t in group}), [name])
        positions: dict[str, list[list[Any]]] = defaultdict(list)
        for group in erase.values():
            for t in group:
                positions[t.stream].append([t.seq, t.field])
        for stream_positions in positions.values():
            stream_positions.sort()
        erased_events = {t.event_pk for group in erase.values() for t in group}
        details = {
            "request": str(request.id),
            "reference": request.reference,
            "legal_ground": request.legal_ground,
            "received_at": format_ts(request.received_at),
            "counts": {
                "fields_erased": removed,
                "events": len(erased_events),
                "fields_kept_held": sum(h["fields"] for h in kept_held.values()),
                "fields_kept_floor": sum(kept_floor.values()),
            },
            "exceptions": [
                # The hold by id only: its name and reason are free text, kept off the chain.
                *(
                    {"kind": "legal_hold", "hold": int(hold_id), "fields": h["fields"]}
                    for hold_id, h in sorted(kept_held.items())
                ),
                *(
                    {"kind": "statutory_floor", "source": source, "fields": n}
                    for source, n in sorted(kept_floor.items())
                ),
            ],
            "erased": dict(sorted(positions.items())),
        }
        receipt = record_trail(
            RECEIPT_ACTION,
            actor=actor_name(actor),
            resource=f"subject_request:{request.id}",
            details=_sign(details),
        )
        request.outcome = {
            "counts": details["counts"],
            "exceptions": details["exceptions"],
            "holds": [{"id": int(i), **h} for i, h in sorted(kept_held.items())],
            "receipt": {"stream": receipt["stream"], "seq": receipt["seq"]},
        }
        request.status = SubjectRequest.Status.COMPLETED
        request.completed_at = timezone.now()
        request.save()
    return request
