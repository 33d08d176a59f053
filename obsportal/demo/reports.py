"""The demo's compliance reports: each framework over the demo's own activity, once.

Run through the `run_report` command by name: the demo sits below the compliance app and
does not import it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from django.core.management import call_command
from django.db.models import Max, Min
from django.utils import timezone

from obsportal.ingest.models import AuditEvent

FRAMEWORKS = ("soc2", "gdpr", "hipaa", "ai_act")


def demo_reports(stdout: TextIO, username: str) -> None:
    """Build (or reuse) one report per framework over the period the demo's events span."""
    span = AuditEvent.objects.aggregate(first=Min("ts"), last=Max("ts"))
    if span["first"] is None:
        return
    since = span["first"].replace(minute=0, second=0, microsecond=0)
    until = max(span["last"], timezone.now()) + timedelta(seconds=1)
    for framework in FRAMEWORKS:
        call_command(
            "run_report",
            framework,
            since=since.isoformat(),
            until=until.isoformat(),
            as_user=username,
            seed="demo",
            trigger="demo",
            reuse=True,
            stdout=stdout,
        )
