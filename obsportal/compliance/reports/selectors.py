"""Reading report runs and schedules: what a person may see of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse

from obsportal.accounts.permissions import access_of
from obsportal.compliance.reports.models import ReportRun, ReportSchedule
from obsportal.compliance.reports.paths import report_dir


def visible_runs(user: Any) -> QuerySet[ReportRun]:
    """Every run for an unscoped reader; a scoped auditor sees only the runs they requested
    (another's report may hold agents or a period outside their scope)."""
    runs = ReportRun.objects.select_related("requested_by").order_by("-id")
    if access_of(user).scope.unlimited:
        return runs
    return runs.filter(requested_by=user)


def visible_schedules(user: Any) -> QuerySet[ReportSchedule]:
    schedules = ReportSchedule.objects.select_related("owner").order_by("-id")
    if access_of(user).scope.unlimited:
        return schedules
    return schedules.filter(owner=user)


class NoSuchFile(LookupError):
    pass


def report_file(run: ReportRun, name: str) -> Path:
    """A finished run's file by name (only the names the run recorded: no path tricks)."""
    if run.status != ReportRun.Status.DONE or name not in run.files:
        raise NoSuchFile(f"report {run.pk} has no file {name!r}")
    return report_dir(run) / name


CONTENT_TYPES = {
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def report_download(run: ReportRun, name: str) -> FileResponse:
    """A finished run's file as an attachment, with what the trail records of its download
    (the API and the page both answer with it; each turns NoSuchFile into its 404)."""
    response = FileResponse(
        report_file(run, name).open("rb"),
        as_attachment=True,
        filename=name,
        content_type=content_type(name),
    )
    response.trail_details = {"report": run.pk, "file": name, **run.files[name]}
    return response


def latest_sections_with_exceptions() -> dict[str, int]:
    """Per framework, the sections with exceptions of its latest finished run."""
    latest: dict[str, int] = {}
    done = ReportRun.objects.filter(status=ReportRun.Status.DONE).order_by("framework", "-id")
    for framework, count in done.values_list("framework", "sections_with_exceptions"):
        latest.setdefault(framework, count)
    return latest
