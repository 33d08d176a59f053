"""Erasure: the subject's sidecar values deleted through the database door, in one
transaction with the signed receipt; held and floor-bound values kept, and named."""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from agents_sdk.offline.erasure import RECEIPT_ACTION, receipt_statement
from obsportal.compliance.models import AgentDeclaration, SubjectRequest
from obsportal.compliance.subjects.declarations import declarations_of
from obsportal.compliance.subjects.requests import RequestRefused, keys_of
from obsportal.compliance.subjects.trail import record_trail
from obsportal.ingest.audit_door import erase_personal_data
from obsportal.ingest.envelope import format_ts
from obsportal.ingest.models import AuditEvent, PersonalDatum
from obsportal.integrity.signing import load_signing_key
from obsportal.retention.holds import held_among
from obsportal.trail.services import actor_name


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
        declared = declarations_of({t.agent_id for t in targets})
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
