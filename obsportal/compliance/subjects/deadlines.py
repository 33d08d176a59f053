"""The legal clocks of subject requests, and which requests are open, late or due soon."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from obsportal.compliance.models import SubjectRequest

# GDPR Art. 12(3): one month, extendable by two further months with reasons.
# HIPAA 164.528(c)(1): 60 days, extendable once by 30 with a written statement.
GDPR_EXTENSION_MONTHS = 2
HIPAA_DAYS, HIPAA_EXTENSION_DAYS = 60, 30


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def initial_deadline(framework: str, received_at: datetime) -> datetime:
    if framework == SubjectRequest.Framework.HIPAA:
        return received_at + timedelta(days=HIPAA_DAYS)
    return _add_months(received_at, 1)


def extended_deadline(framework: str, due_at: datetime) -> datetime:
    if framework == SubjectRequest.Framework.HIPAA:
        return due_at + timedelta(days=HIPAA_EXTENSION_DAYS)
    return _add_months(due_at, GDPR_EXTENSION_MONTHS)


def open_requests() -> QuerySet[SubjectRequest]:
    return SubjectRequest.objects.exclude(status=SubjectRequest.Status.COMPLETED)


def overdue_requests(now: datetime | None = None) -> list[SubjectRequest]:
    """Requests past their (possibly extended) deadline and not completed."""
    now = now or timezone.now()
    return [r for r in open_requests().order_by("due_at") if r.deadline < now]


def request_counts(now: datetime | None = None) -> dict[str, int]:
    """For the overview and the metric: open, overdue, due within a week."""
    now = now or timezone.now()
    pending = list(open_requests())
    return {
        "open": len(pending),
        "overdue": sum(r.deadline < now for r in pending),
        "due_within_7_days": sum(now <= r.deadline < now + timedelta(days=7) for r in pending),
    }
