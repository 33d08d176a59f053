"""Requesting report runs and scheduling them: recorded (and on the trail) before they are built."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from obsportal.compliance.reports import registry
from obsportal.compliance.reports.models import ReportRun, ReportSchedule
from obsportal.compliance.reports.signals import report_changed


class InvalidReportRequest(ValueError):
    """A request that makes no report; `errors` maps field to a sentence."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def check_request(framework: str, since: datetime | None, until: datetime | None) -> None:
    errors = {}
    if framework not in registry.FRAMEWORKS:
        errors["framework"] = f"no framework {framework!r}; known: {', '.join(registry.FRAMEWORKS)}"
    if since is None:
        errors["since"] = "give the start of the period (ISO 8601 with a UTC offset)"
    if until is None:
        errors["until"] = "give the end of the period (ISO 8601 with a UTC offset)"
    if since and until and since >= until:
        errors["until"] = "until must be later than since"
    if errors:
        raise InvalidReportRequest(errors)


def request_report(
    framework: str,
    since: datetime | None,
    until: datetime | None,
    user: Any,
    *,
    seed: str | None = None,
    trigger: str = "portal",
    schedule: ReportSchedule | None = None,
    queue: bool = True,
) -> ReportRun:
    """Record the run and its trail event in one transaction; the build is queued on commit."""
    from obsportal.compliance.reports.tasks import build_report_task

    check_request(framework, since, until)
    seed = seed or secrets.token_hex(8)
    with transaction.atomic():
        run = ReportRun.objects.create(
            framework=framework,
            since=since,
            until=until,
            seed=seed[:64],
            trigger=trigger,
            schedule=schedule,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        report_changed.send(
            sender=ReportRun,
            actor=user if getattr(user, "is_authenticated", False) else None,
            action="report.run",
            target=run,
            details={
                "framework": framework,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "seed": run.seed,
                "trigger": trigger,
            },
        )
        if queue:
            transaction.on_commit(lambda: build_report_task.delay(run.pk))
    return run


def _recipients(values: list[str] | None) -> list[str]:
    from obsportal.compliance.reports.delivery import clean_recipients

    if values is not None and not isinstance(values, list):
        raise InvalidReportRequest({"recipients": "a list of email addresses"})
    try:
        return clean_recipients(values or [])
    except ValueError as exc:
        raise InvalidReportRequest({"recipients": str(exc)}) from None


def create_schedule(
    framework: str,
    cadence: str,
    owner: Any,
    *,
    drop_dir: str = "",
    by: Any = None,
    recipients: list[str] | None = None,
) -> ReportSchedule:
    """`recipients` are emailed each finished run; the caller checks reports.email first."""
    check_request(framework, datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 2, 1, tzinfo=UTC))
    if cadence not in ReportSchedule.Cadence.values:
        raise InvalidReportRequest({"cadence": "monthly or quarterly"})
    addresses = _recipients(recipients)
    with transaction.atomic():
        schedule = ReportSchedule.objects.create(
            framework=framework,
            cadence=cadence,
            owner=owner,
            drop_dir=drop_dir,
            recipients=addresses,
        )
        report_changed.send(
            sender=ReportSchedule,
            actor=by,
            action="report.schedule",
            target=schedule,
            details={
                "framework": framework,
                "cadence": cadence,
                "owner": owner.get_username(),
                "drop_dir": drop_dir,
                "recipients": len(addresses),
            },
            personal={"recipients": addresses} if addresses else None,
        )
    return schedule


def set_recipients(schedule: ReportSchedule, recipients: list[str], *, by: Any) -> ReportSchedule:
    """Replace a schedule's recipients (the caller checks reports.email); on the trail, the
    addresses in the personal-data sidecar only."""
    addresses = _recipients(recipients)
    with transaction.atomic():
        schedule.recipients = addresses
        schedule.save(update_fields=["recipients"])
        report_changed.send(
            sender=ReportSchedule,
            actor=by,
            action="report.recipients",
            target=schedule,
            details={"recipients": len(addresses)},
            personal={"recipients": addresses},
        )
    return schedule


def last_complete_period(cadence: str, now: datetime) -> tuple[datetime, datetime]:
    """The last whole month or quarter (UTC) that ended at or before `now`."""
    now = now.astimezone(UTC)
    if cadence == ReportSchedule.Cadence.MONTHLY:
        until = datetime(now.year, now.month, 1, tzinfo=UTC)
        since = datetime(until.year - (until.month == 1), (until.month - 2) % 12 + 1, 1, tzinfo=UTC)
        return since, until
    first_month = 3 * ((now.month - 1) // 3) + 1
    until = datetime(now.year, first_month, 1, tzinfo=UTC)
    month, year = first_month - 3, now.year
    if month < 1:
        month, year = month + 12, year - 1
    return datetime(year, month, 1, tzinfo=UTC), until


def run_due_schedules(now: datetime | None = None) -> list[ReportRun]:
    """Queue each enabled schedule's last complete period, once (the beat job; idempotent)."""
    now = now or timezone.now()
    queued = []
    for schedule in ReportSchedule.objects.filter(enabled=True).select_related("owner"):
        since, until = last_complete_period(schedule.cadence, now)
        if ReportRun.objects.filter(schedule=schedule, since=since, until=until).exists():
            continue
        queued.append(
            request_report(
                schedule.framework,
                since,
                until,
                schedule.owner,
                trigger="schedule",
                schedule=schedule,
            )
        )
    return queued
