"""Pages for compliance officers, and the health endpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from obsportal.accounts.permissions import capability_required, public, visible_events
from obsportal.accounts.roles import Capability
from obsportal.ingest import selectors

LATEST_EVENTS_SHOWN = 100


@capability_required(Capability.EVENTS_READ)
def event_list(request: HttpRequest) -> HttpResponse:
    events = visible_events(selectors.events(), request.user).order_by("-ts", "-id")
    events = list(events[:LATEST_EVENTS_SHOWN])
    return render(request, "portal/event_list.html", {"events": events})


@capability_required(Capability.TRAIL_READ)
def trail(request: HttpRequest) -> HttpResponse:
    """The portal's own audit trail: who read, searched, exported or changed what."""
    agent = settings.OBSPORTAL_TRAIL_AGENT_ID
    events = visible_events(selectors.events().filter(agent_id=agent), request.user, agent)
    events = list(events.order_by("-ts", "-id")[:LATEST_EVENTS_SHOWN])
    context = {"events": events, "heading": "The portal's own audit trail", "trail": True}
    return render(request, "portal/event_list.html", context)


@public("a liveness probe: says only that the process answers")
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


@public("a readiness probe: says only whether the database answers")
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JsonResponse({"status": "unavailable", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
