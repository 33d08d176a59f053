"""Pages for compliance officers, and the health endpoints."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from obsportal.ingest import selectors

LATEST_EVENTS_SHOWN = 100


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    events = selectors.latest_events(LATEST_EVENTS_SHOWN)
    return render(request, "portal/event_list.html", {"events": events})


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JsonResponse({"status": "unavailable", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
