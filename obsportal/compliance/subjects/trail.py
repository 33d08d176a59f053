"""The trail records of subject requests: noted for the request's middleware, naming a
request by its id, never the person."""

from __future__ import annotations

from typing import Any

from obsportal.compliance.models import SubjectRequest
from obsportal.ingest.envelope import format_ts
from obsportal.trail.services import _request_changes
from obsportal.trail.services import record_trail as _record_trail


def record_trail(action: str, **fields: Any) -> dict[str, Any]:
    """The trail record of a change, noted for the request's middleware, which then adds no
    second event for the same request (as `record_change` does for roles)."""
    event = _record_trail(action, **fields)
    changes = _request_changes.get()
    if changes is not None:
        changes.append(action)
    return event


def request_details(request: SubjectRequest) -> dict[str, Any]:
    return {
        "request": str(request.id),
        "reference": request.reference,
        "kind": request.kind,
        "framework": request.framework,
        "due": format_ts(request.deadline),
    }
