"""Where the demo's record shows on the officer's pages: printed after the demo has run."""

from __future__ import annotations

from urllib.parse import urlencode

from obsportal.ingest.models import AuditEvent


def page_tour(stream_id: str, agent_id: str) -> list[str]:
    """Lines naming the overview, a search and one event of the demo agent's stream."""
    lines = ["Overview: /  (volume, denied and failed rates, integrity, incidents, dead letters)"]
    search = urlencode({"agent_id": agent_id, "result": "denied"})
    lines.append(f"Search its denials: /events/?{search}  (export them as CSV or JSON there)")
    traced = (
        AuditEvent.objects.filter(stream_id=stream_id, trace_id__isnull=False)
        .order_by("seq")
        .values_list("event_id", flat=True)
        .first()
    )
    first = traced or (
        AuditEvent.objects.filter(stream_id=stream_id)
        .order_by("seq")
        .values_list("event_id", flat=True)
        .first()
    )
    if first:
        lines.append(f"One event, its chain, checkpoint proof and trace: /events/{first}/")
    return lines
