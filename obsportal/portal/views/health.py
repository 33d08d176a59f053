"""Liveness and readiness endpoints for the orchestrator (no login)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

from obsportal.accounts.permissions import public


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
