"""Report pages: the runs, the form to run one, a run with its progress, its files."""

from __future__ import annotations

import orjson
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from obsportal.accounts.permissions import capability_required, has_capability
from obsportal.accounts.roles import Capability
from obsportal.compliance.reports import registry, selectors, services
from obsportal.compliance.reports.models import ReportRun
from obsportal.params import read_moment


@capability_required(Capability.REPORTS_RUN)
def report_list(request: HttpRequest) -> HttpResponse:
    context = {
        "runs": selectors.visible_runs(request.user)[:100],
        "schedules": selectors.visible_schedules(request.user),
        "frameworks": [registry.framework(key) for key in registry.FRAMEWORKS],
        "can_email": has_capability(request.user, Capability.REPORTS_EMAIL),
        "errors": {},
    }
    return render(request, "portal/reports/list.html", context)


@capability_required(Capability.REPORTS_EMAIL)
def schedule_recipients(request: HttpRequest, schedule_id: int) -> HttpResponse:
    """POST a schedule's recipients (one address per line or comma-separated)."""
    schedule = get_object_or_404(selectors.visible_schedules(request.user), pk=schedule_id)
    if request.method != "POST":
        return redirect("reports:list")
    text = request.POST.get("recipients", "")
    addresses = [a for a in text.replace(",", "\n").split() if a]
    try:
        services.set_recipients(schedule, addresses, by=request.user)
    except services.InvalidReportRequest as exc:
        context = {
            "runs": selectors.visible_runs(request.user)[:100],
            "schedules": selectors.visible_schedules(request.user),
            "frameworks": [registry.framework(key) for key in registry.FRAMEWORKS],
            "can_email": True,
            "errors": {schedule.pk: exc.errors["recipients"]},
        }
        return render(request, "portal/reports/list.html", context, status=400)
    return redirect("reports:list")


def _moment(text: str | None):
    return read_moment(text) if text else None


@capability_required(Capability.REPORTS_RUN)
def report_new(request: HttpRequest) -> HttpResponse:
    """GET the form; POST queues the run and goes to its page."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = request.POST
        try:
            since, until = _moment(data.get("since")), _moment(data.get("until"))
        except ValueError as exc:
            errors = {"period": str(exc)}
        else:
            try:
                run = services.request_report(
                    data.get("framework", ""),
                    since,
                    until,
                    request.user,
                    seed=data.get("seed") or None,
                )
            except services.InvalidReportRequest as exc:
                errors = exc.errors
            else:
                return redirect("reports:run", run_id=run.pk)
    context = {"choices": registry.choices(), "errors": errors, "values": request.POST}
    return render(request, "portal/reports/new.html", context, status=400 if errors else 200)


@capability_required(Capability.REPORTS_RUN)
def report_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(selectors.visible_runs(request.user), pk=run_id)
    document = None
    if run.status == ReportRun.Status.DONE:
        try:
            document = orjson.loads(selectors.report_file(run, "report.json").read_bytes())
        except (selectors.NoSuchFile, OSError):
            document = None
    context = {"run": run, "doc": document, "building": run.status in ("queued", "running")}
    return render(request, "portal/reports/run.html", context)


@capability_required(Capability.REPORTS_RUN)
def report_file(request: HttpRequest, run_id: int, name: str) -> HttpResponse:
    run = get_object_or_404(selectors.visible_runs(request.user), pk=run_id)
    try:
        return selectors.report_download(run, name)
    except selectors.NoSuchFile as exc:
        raise Http404(str(exc)) from exc
