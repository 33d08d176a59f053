"""REST API of compliance reports: frameworks, runs (request, progress, files), schedules."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.permissions import has_capability
from obsportal.accounts.roles import Capability
from obsportal.compliance.reports import registry, selectors, services
from obsportal.compliance.reports.models import ReportRun, ReportSchedule
from obsportal.params import read_moment


class ReportRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    requested_by = serializers.SerializerMethodField()

    class Meta:
        model = ReportRun
        fields = [
            "id",
            "framework",
            "since",
            "until",
            "seed",
            "trigger",
            "status",
            "progress",
            "step",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "files",
            "report_sha256",
            "sections_with_exceptions",
            "error",
            "deliveries",
            "url",
        ]

    deliveries = serializers.SerializerMethodField()

    def get_deliveries(self, run: ReportRun) -> list[dict]:
        return [
            {"recipient": d.recipient, "status": d.status, "attempts": d.attempts,
             "sent_at": d.sent_at, "error": d.error}
            for d in run.deliveries.all()
        ]  # fmt: skip

    def get_url(self, run: ReportRun) -> str:
        return self.context["request"].build_absolute_uri(f"/api/v1/reports/{run.pk}/")

    def get_requested_by(self, run: ReportRun) -> str | None:
        return run.requested_by.get_username() if run.requested_by else None


class ReportScheduleSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()

    class Meta:
        model = ReportSchedule
        fields = [
            "id",
            "framework",
            "cadence",
            "owner",
            "drop_dir",
            "recipients",
            "enabled",
            "created_at",
        ]

    def get_owner(self, schedule: ReportSchedule) -> str:
        return schedule.owner.get_username()


def _moment(data, name: str):
    text = data.get(name)
    if not text:
        return None
    try:
        return read_moment(str(text))
    except ValueError as exc:
        raise ValidationError({name: str(exc)}) from None


class FrameworkList(APIView):
    """The frameworks a report can be run for, each with its sections and their controls."""

    required_capability = Capability.REPORTS_RUN

    @extend_schema(
        responses={200: inline_serializer("Framework", {"key": serializers.CharField()}, many=True)}
    )
    def get(self, request):
        return Response([registry.framework(key).as_spec() for key in registry.FRAMEWORKS])


class ReportRunList(APIView):
    """GET the runs, newest first; POST {framework, since, until, seed?} to queue one."""

    required_capability = Capability.REPORTS_RUN

    @extend_schema(responses={200: ReportRunSerializer(many=True)})
    def get(self, request):
        runs = selectors.visible_runs(request.user)[:200]
        return Response(ReportRunSerializer(runs, many=True, context={"request": request}).data)

    @extend_schema(
        request=inline_serializer(
            "ReportRequest",
            {
                "framework": serializers.ChoiceField(choices=list(registry.FRAMEWORKS)),
                "since": serializers.DateTimeField(),
                "until": serializers.DateTimeField(),
                "seed": serializers.CharField(required=False),
            },
        ),
        responses={202: ReportRunSerializer},
    )
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        try:
            run = services.request_report(
                str(data.get("framework", "")),
                _moment(data, "since"),
                _moment(data, "until"),
                request.user,
                seed=str(data["seed"]) if data.get("seed") else None,
                trigger="api",
            )
        except services.InvalidReportRequest as exc:
            raise ValidationError(exc.errors) from exc
        return Response(ReportRunSerializer(run, context={"request": request}).data, status=202)


class ReportRunDetail(APIView):
    """One run: its progress while building, then its files and their SHA-256."""

    required_capability = Capability.REPORTS_RUN

    @extend_schema(responses={200: ReportRunSerializer})
    def get(self, request, run_id: int):
        run = get_object_or_404(selectors.visible_runs(request.user), pk=run_id)
        return Response(ReportRunSerializer(run, context={"request": request}).data)


class ReportFile(APIView):
    """A finished run's file: report.json (signed), report.pdf, report.html or a population CSV."""

    required_capability = Capability.REPORTS_RUN

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, run_id: int, name: str):
        run = get_object_or_404(selectors.visible_runs(request.user), pk=run_id)
        try:
            return selectors.report_download(run, name)
        except selectors.NoSuchFile as exc:
            raise NotFound(str(exc)) from exc


def _listed(data: Any, name: str) -> Any:
    """A list field of a JSON body, or of a form body (whose repeated fields are a list)."""
    if hasattr(data, "getlist"):
        return data.getlist(name) if name in data else None
    return data.get(name)


class ReportScheduleList(APIView):
    """GET the schedules; POST {framework, cadence, drop_dir?} to run a report each month or
    quarter, as the caller (the report shows what they may read)."""

    required_capability = Capability.REPORTS_RUN

    @extend_schema(responses={200: ReportScheduleSerializer(many=True)})
    def get(self, request):
        schedules = selectors.visible_schedules(request.user)
        return Response(ReportScheduleSerializer(schedules, many=True).data)

    @extend_schema(
        request=inline_serializer(
            "ReportScheduleRequest",
            {
                "framework": serializers.ChoiceField(choices=list(registry.FRAMEWORKS)),
                "cadence": serializers.ChoiceField(choices=ReportSchedule.Cadence.values),
                "recipients": serializers.ListField(child=serializers.EmailField(), required=False),
            },
        ),
        responses={201: ReportScheduleSerializer},
    )
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        recipients = _listed(data, "recipients") or None
        if recipients and not has_capability(request.user, Capability.REPORTS_EMAIL):
            raise PermissionDenied("naming email recipients needs the reports.email capability")
        try:
            # A drop directory is the operator's (manage.py schedule_report): not over HTTP.
            schedule = services.create_schedule(
                str(data.get("framework", "")),
                str(data.get("cadence", "")),
                request.user,
                by=request.user,
                recipients=recipients,
            )
        except services.InvalidReportRequest as exc:
            raise ValidationError(exc.errors) from exc
        return Response(ReportScheduleSerializer(schedule).data, status=201)


class ReportScheduleRecipients(APIView):
    """PUT {recipients: [address, ...]} to replace whom a schedule's runs are emailed to."""

    required_capability = Capability.REPORTS_EMAIL

    @extend_schema(
        request=inline_serializer(
            "ReportRecipients",
            {"recipients": serializers.ListField(child=serializers.EmailField())},
        ),
        responses={200: ReportScheduleSerializer},
    )
    def put(self, request, schedule_id: int):
        schedule = get_object_or_404(selectors.visible_schedules(request.user), pk=schedule_id)
        data = request.data if hasattr(request.data, "get") else {}
        try:
            schedule = services.set_recipients(
                schedule, _listed(data, "recipients"), by=request.user
            )
        except services.InvalidReportRequest as exc:
            raise ValidationError(exc.errors) from exc
        return Response(ReportScheduleSerializer(schedule).data)


# Included under /api/v1/ by obsportal.urls.
urlpatterns = [
    path("reports/", ReportRunList.as_view(), name="report-list"),
    path("reports/frameworks/", FrameworkList.as_view(), name="report-frameworks"),
    path("reports/schedules/", ReportScheduleList.as_view(), name="report-schedules"),
    path(
        "reports/schedules/<int:schedule_id>/recipients/",
        ReportScheduleRecipients.as_view(),
        name="report-schedule-recipients",
    ),
    path("reports/<int:run_id>/", ReportRunDetail.as_view(), name="report-detail"),
    path("reports/<int:run_id>/files/<str:name>", ReportFile.as_view(), name="report-file"),
]
