"""REST API of evidence bundles: built at once for a small query, or as an export job."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.permissions import may_read_agent
from obsportal.accounts.roles import Capability
from obsportal.integrity import selectors
from obsportal.integrity.evidence import BundleRefused, NothingToBundle
from obsportal.integrity.exports import export_path, request_export
from obsportal.integrity.models import EvidenceExport
from obsportal.integrity.signing import SigningKeyMissing


def parse_bundle_query(params, user) -> tuple[str, object, object]:
    """(agent_id, since, until) from query parameters, within the user's scope; a 400 for
    a bad time, a 403 for an agent outside the scope."""
    try:
        query = selectors.evidence_query(params, user)
    except selectors.InvalidEvidenceQuery as exc:
        raise ValidationError(exc.errors) from exc
    except selectors.EvidenceOutOfScope as exc:
        raise PermissionDenied(str(exc)) from exc
    return query.agent_id, query.since, query.until


def bundle_response(agent_id, since, until) -> HttpResponse:
    """A bundle built now, for the smaller queries; the larger ones go through an export job."""
    try:
        bundle = selectors.direct_bundle(selectors.EvidenceQuery(agent_id, since, until))
    except NothingToBundle as exc:
        raise NotFound(str(exc)) from exc
    except BundleRefused as exc:
        raise ValidationError({"detail": str(exc)}) from exc
    except SigningKeyMissing as exc:
        raise NotFound(str(exc)) from exc
    response = FileResponse(
        bundle.file, as_attachment=True, filename=bundle.filename, content_type="application/jsonl"
    )
    response.trail_details = bundle.trail_details
    return response


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

    @extend_schema(
        parameters=BUNDLE_QUERY,
        # The query may come as a form or JSON body instead of query parameters.
        request=inline_serializer(
            "EvidenceQuery",
            {
                "agent_id": serializers.CharField(),
                "since": serializers.DateTimeField(required=False),
                "until": serializers.DateTimeField(required=False),
            },
        ),
        responses={202: EvidenceExportSerializer},
    )
    def post(self, request):
        body = request.data
        if body and not isinstance(body, dict):
            # A JSON number or list has no query to read: a 400, never a crash in the parser.
            raise ValidationError({"detail": "the body, if any, must be a JSON object"})
        params = body or request.query_params
        try:
            export = request_export(*parse_bundle_query(params, request.user), user=request.user)
        except NothingToBundle as exc:
            raise NotFound(str(exc)) from exc
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
            **selectors.file_digest(file),
        }
        return response
