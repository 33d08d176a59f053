"""Data-subject requests as a report population (the GDPR report's Art. 15 / 17 section).

Requests are named by their reference only: a report travels to auditors, and the person's
identifiers stay in the request record (SubjectRequest.identifier), never in a report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from obsportal.compliance.models import SubjectRequest

COLUMNS = ["reference", "kind", "framework", "received", "deadline", "status", "answered", "clock"]
QUERY = (
    "SubjectRequest where since <= received_at < until, ordered by received_at; deadline = "
    "extended_due_at or due_at (GDPR one month, extendable by two; HIPAA 60 days, plus 30); "
    "clock = 'late' when answered (completed_at) or, still open, now is past the deadline"
)


def _clock(request: SubjectRequest, now: datetime) -> str:
    answered = request.completed_at
    if answered is not None:
        return "late" if answered > request.deadline else "on time"
    return "late (open)" if now > request.deadline else "open, within its deadline"


def report_subject_requests(
    since: datetime, until: datetime
) -> tuple[list[str], list[list[Any]], str]:
    """(columns, rows, the query in words) of the requests received in [since, until)."""
    now = timezone.now()
    rows = [
        [
            r.reference,
            r.kind,
            r.framework,
            r.received_at.isoformat(),
            r.deadline.isoformat(),
            r.status,
            r.completed_at.isoformat() if r.completed_at else "",
            _clock(r, now),
        ]
        for r in SubjectRequest.objects.filter(received_at__gte=since, received_at__lt=until)
        .order_by("received_at", "id")
        .iterator()
    ]
    return COLUMNS, rows, QUERY
