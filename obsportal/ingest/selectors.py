"""Reading stored audit events."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from obsportal.ingest.models import AuditEvent
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
