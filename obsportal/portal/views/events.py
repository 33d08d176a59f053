"""The events pages: the latest audit events, searched with the API's own filter, and the
portal's own trail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from obsportal.accounts.permissions import capability_required
from obsportal.accounts.roles import Capability
from obsportal.events.selectors import InvalidEventQuery, search_events

LATEST_EVENTS_SHOWN = 100


@capability_required(Capability.EVENTS_READ)
def event_list(request: HttpRequest) -> HttpResponse:
    return _render_events(request, request.GET, {})


@capability_required(Capability.TRAIL_READ)
def trail(request: HttpRequest) -> HttpResponse:
    """The portal's own audit trail: who read, searched, exported or changed what."""
    query = {"agent_id": settings.OBSPORTAL_TRAIL_AGENT_ID}
    return _render_events(
        request, query, {"heading": "The portal's own audit trail", "trail": True}
    )


def _render_events(request: HttpRequest, query: Any, context: dict[str, Any]) -> HttpResponse:
    try:
        events = list(search_events(query, request.user)[:LATEST_EVENTS_SHOWN])
    except InvalidEventQuery as exc:
        context = {**context, "events": [], "error": exc.errors}
        return render(request, "portal/event_list.html", context, status=400)
    return render(request, "portal/event_list.html", {**context, "events": events})
