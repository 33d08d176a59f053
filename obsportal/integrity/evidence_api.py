"""REST API of evidence bundles: built at once for a small query, or as an export job."""

from __future__ import annotations

import hashlib
import tempfile

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.permissions import access_of, may_read_agent
from obsportal.accounts.roles import Capability
from obsportal.integrity.evidence import BundleRefused, plan_bundle, write_bundle
from obsportal.integrity.exports import export_path, request_export
from obsportal.integrity.models import EvidenceExport
from obsportal.integrity.signing import SigningKeyMissing

# Bundles larger than this are built by the export task, not inside a request.
MAX_DIRECT_EVENTS = 100_000


def parse_bundle_query(params, user) -> tuple[str, object, object]:
    """(agent_id, since, until) from query parameters, within the user's scope; a clear
    error for a bad time or an agent outside the scope."""
    bounds = []
    for name in ("since", "until"):
        text = params.get(name)
        value = parse_datetime(text) if text else None
        if text and (value is None or value.tzinfo is None):
            raise ValidationError({name: "an ISO 8601 time with a UTC offset, e.g. ...Z"})
        bounds.append(value)
    agent_id = params.get("agent_id") or None
    if not agent_id:
        raise ValidationError({"agent_id": "give the agent_id whose events the bundle holds"})
    if not may_read_agent(user, agent_id):
        scope = access_of(user).scope
        raise PermissionDenied(f"agent {agent_id} is outside your scope ({scope.describe()})")
    # A scoped period narrows the bundle's; the bundle states the query it answers.
    scope, (since, until) = access_of(user).scope, bounds
    if scope.since is not None and (since is None or since < scope.since):
        since = scope.since
    if scope.until is not None and (until is None or until > scope.until):
        until = scope.until
    return agent_id, since, until


def bundle_response(agent_id, since, until) -> HttpResponse:
    """A bundle built now, for the smaller queries; the larger ones go through an export job."""
    try:
        plan = plan_bundle(agent_id, since, until)
        if plan.events > MAX_DIRECT_EVENTS:
            raise BundleRefused(
                f"the bundle would hold {plan.events} events; more than {MAX_DIRECT_EVENTS} "
                "are built as a job: POST /api/v1/evidence/exports/"
            )
    except BundleRefused as exc:
        raise ValidationError({"detail": str(exc)}) from exc
    except SigningKeyMissing as exc:
        raise NotFound(str(exc)) from exc
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    write_bundle(plan, spool)
    spool.seek(0)
    name = f"evidence-{agent_id}.jsonl".replace("/", "_")
    response = FileResponse(
        spool, as_attachment=True, filename=name, content_type="application/jsonl"
    )
    response.trail_details = {
        "export": "evidence bundle",
        "events": plan.events,
        **_file_digest(spool),
    }
    response.trail_details["query"] = {
        "agent_id": agent_id,
        "since": _iso(since),
        "until": _iso(until),
    }
    return response


def _file_digest(file) -> dict:
    """Size and SHA-256 of what is about to leave the portal, for its trail; rewound after."""
    digest, size = hashlib.sha256(), 0
    while chunk := file.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


BUNDLE_QUERY = [
    OpenApiParameter("agent_id", str, required=True),
    OpenApiParameter("since", OpenApiTypes.DATETIME),
    OpenApiParameter("until", OpenApiTypes.DATETIME),
]


class EvidenceBundle(APIView):
    """The JSON Lines bundle of a query, built at once (up to MAX_DIRECT_EVENTS events)."""

    required_capability = Capability.EVIDENCE_EXPORT

    @extend_schema(
        parameters=BUNDLE_QUERY, responses={(200, "application/jsonl"): OpenApiTypes.STR}
    )
    def get(self, request):
        return bundle_response(*parse_bundle_query(request.query_params, request.user))


class EvidenceExportSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceExport
        fields = [
            "id",
            "status",
            "agent_id",
            "since",
            "until",
            "requested_at",
            "finished_at",
            "events_total",
            "events_written",
            "percent",
            "selected",
            "size_bytes",
            "error",
            "url",
            "download_url",
        ]

    def get_url(self, export: EvidenceExport) -> str:
        return self.context["request"].build_absolute_uri(f"/api/v1/evidence/exports/{export.pk}/")

    def get_download_url(self, export: EvidenceExport) -> str | None:
        if export.status != EvidenceExport.Status.DONE:
            return None
        return self.get_url(export) + "download"

    def get_percent(self, export: EvidenceExport) -> float | None:
        if not export.events_total:
            return None
        return round(100 * export.events_written / export.events_total, 1)


class EvidenceExports(APIView):
    """POST a query to have its bundle built by a worker; GET lists the jobs, newest first."""

    required_capability = Capability.EVIDENCE_EXPORT

    @extend_schema(parameters=BUNDLE_QUERY, responses={202: EvidenceExportSerializer})
    def post(self, request):
        params = request.data or request.query_params
        try:
            export = request_export(*parse_bundle_query(params, request.user), user=request.user)
        except BundleRefused as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        data = EvidenceExportSerializer(export, context={"request": request}).data
        return Response(data, status=202, headers={"Location": data["url"]})

    @extend_schema(responses={200: EvidenceExportSerializer(many=True)})
    def get(self, request):
        exports = EvidenceExport.objects.all()[:100]
        return Response(
            EvidenceExportSerializer(exports, many=True, context={"request": request}).data
        )


class EvidenceExportDetail(generics.RetrieveAPIView):
    """An export job: its status, progress and, once built, its download link."""

    required_capability = Capability.EVIDENCE_EXPORT

    queryset = EvidenceExport.objects.all()
    serializer_class = EvidenceExportSerializer


class EvidenceExportDownload(APIView):
    """The built bundle file (JSON Lines)."""

    required_capability = Capability.EVIDENCE_EXPORT

    @extend_schema(responses={(200, "application/jsonl"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        export = get_object_or_404(EvidenceExport, pk=pk)
        if export.status != EvidenceExport.Status.DONE:
            raise NotFound(f"export {pk} is {export.get_status_display()}, not ready")
        if not may_read_agent(request.user, export.agent_id):
            raise NotFound(f"no export {pk}")
        name = f"evidence-{export.agent_id}-{pk}.jsonl".replace("/", "_")
        file = export_path(export).open("rb")
        response = FileResponse(
            file, as_attachment=True, filename=name, content_type="application/jsonl"
        )
        response.trail_details = {
            "export": f"evidence export {pk}",
            "events": export.events_written,
            **_file_digest(file),
        }
        return response
