"""Every authenticated request leaves one event on the portal's trail, or is refused.

The event is written after the view answered (so it carries the outcome and, for an
export, the digest of what left) and before the answer is sent: a request whose
event cannot be stored gets a 503 instead of its answer (fail closed). A request
whose service already recorded a change (a role given, a credential revoked) adds
no second event.

A state-changing request (POST, PUT, PATCH, DELETE) runs in one transaction with its
event: what it changed and its record commit together or not at all, and work it
queues with `transaction.on_commit` (an export job) starts only once its record is
committed, never for a request that was refused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from obsportal.trail.actions import URL_EXEMPTIONS, Kind, action_for_view, action_named
from obsportal.trail.services import (
    TrailUnavailable,
    _request_changes,
    actor_name,
    record_trail,
)

logger = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Query parameters that name a person: kept in the erasable sidecar, not the hashed body.
PERSONAL_FILTERS = frozenset({"user_id", "subject", "email", "username", "q"})
# Parameters that only steer paging or rendering.
UNRECORDED_PARAMETERS = frozenset({"cursor", "page", "page_size", "format", "export"})
REFUSAL = (
    "This request could not be written to the portal's audit trail, so it was refused. "
    "Try again; if it persists, the trail's storage needs an operator."
)


def result_of(status: int) -> str:
    if status < 400:
        return "success"
    if status in (401, 403):
        return "denied"
    return "failure" if status < 500 else "error"


class TrailMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request_changes.set([])
        try:
            if request.method in STATE_CHANGING and not _exempt(request):
                with transaction.atomic():  # a TrailUnavailable rolls the change back
                    return self._answered(request)
            return self._answered(request)
        except TrailUnavailable as exc:
            return _refused(request, exc)
        finally:
            _request_changes.reset(token)

    def _answered(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        changes = _request_changes.get()
        if changes and response.status_code < 400:
            return response
        return self._recorded(request, response)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, TrailUnavailable):
            return _refused(request, exception)
        return None

    def _recorded(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        user = getattr(request, "user", None)
        actor = actor_name(user)
        if actor is None:
            return response
        match = request.resolver_match
        if match is None:
            action = "page.view"
        elif match.view_name in URL_EXEMPTIONS or match.url_name in URL_EXEMPTIONS:
            return response
        else:
            action = action_for_view(match.view_name, match.namespace) or "page.view"
        details, personal = _details(request, response, action)
        record_trail(
            action,
            actor=actor,
            result=result_of(response.status_code),
            resource=_resource(request, match),
            details=details,
            personal=personal,
        )
        return response


def _exempt(request: HttpRequest) -> bool:
    """A route the trail does not record (an agent's ingest batch, the login form)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.view_name in URL_EXEMPTIONS or match.url_name in URL_EXEMPTIONS


def _details(
    request: HttpRequest, response: HttpResponse, action: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    details: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "api": request.path.startswith("/api/"),
    }
    filters, personal = {}, {}
    for name in request.GET:
        if name in UNRECORDED_PARAMETERS:
            continue
        values = request.GET.getlist(name)
        value = values[0] if len(values) == 1 else values
        if name in PERSONAL_FILTERS:
            personal[f"filters.{name}"] = value
            filters[name] = "(personal data, in the sidecar)"
        else:
            filters[name] = value
    if filters:
        details["filters"] = filters
    exported = action_named(action).kind == Kind.EXPORT and response.status_code == 200
    if exported and not response.streaming:
        details["bytes"] = len(response.content)
        details["sha256"] = hashlib.sha256(response.content).hexdigest()
    details.update(getattr(response, "trail_details", {}))
    return details, personal


def _resource(request: HttpRequest, match) -> str | None:
    if match is None or not match.kwargs:
        return None
    parts = [f"{name}:{value}" for name, value in sorted(match.kwargs.items()) if name != "pem"]
    return ",".join(parts) or None


def _refused(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("refused %s %s: %s", request.method, request.path, exc)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": REFUSAL}, status=503)
    return HttpResponse(REFUSAL, status=503, content_type="text/plain; charset=utf-8")
