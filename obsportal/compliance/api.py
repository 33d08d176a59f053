"""REST API of data-subject requests and the agents' declarations of processing.

Reading a request (kind, deadline, status, receipt counts) needs `subjects.read` (an
auditor checks deadlines); the person's identifier, the exports and their files need
`subjects.export`; an erasure needs `subjects.erase`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.permissions import has_capability
from obsportal.accounts.roles import Capability
from obsportal.api_fields import StrictCharField, StrictModelSerializer
from obsportal.compliance.models import AgentDeclaration, SubjectRequest
from obsportal.compliance.renderers import subject_export as renderers
from obsportal.compliance.subjects import deadlines, declarations, erasure, exports, requests
from obsportal.compliance.subjects.requests import RequestRefused
from obsportal.pagination import CheckedCursorPagination


def refused(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a service; a request it refuses is a 400 saying why."""
    try:
        return call(*args, **kwargs)
    except RequestRefused as exc:
        raise ValidationError({"detail": str(exc)}) from exc


class RequestCursorPagination(CheckedCursorPagination):
    ordering = ("-received_at", "-id")
    page_size = 50


class SubjectRequestSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    deadline = serializers.DateTimeField(read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = SubjectRequest
        fields = [
            "id",
            "reference",
            "kind",
            "framework",
            "identifier",
            "legal_ground",
            "received_at",
            "due_at",
            "extended_due_at",
            "extension_reason",
            "deadline",
            "overdue",
            "status",
            "completed_at",
            "outcome",
            "files",
            "error",
        ]
        read_only_fields = fields

    def get_overdue(self, request: SubjectRequest) -> bool:
        from django.utils import timezone

        return request.status != SubjectRequest.Status.COMPLETED and request.deadline < (
            timezone.now()
        )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        user = self.context["request"].user
        if not has_capability(user, Capability.SUBJECTS_EXPORT):
            data["identifier"] = None  # the person is not the auditor's to know
            data["files"] = {}
        return data


class NewSubjectRequest(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SubjectRequest.Kind.choices)
    identifier = StrictCharField(max_length=1000)
    framework = serializers.ChoiceField(choices=SubjectRequest.Framework.choices, required=False)
    legal_ground = StrictCharField(max_length=200, required=False, allow_blank=True)


class SubjectRequestList(generics.ListAPIView):
    """Data-subject requests, newest first; POST receives a new one."""

    required_capability = {
        "GET": Capability.SUBJECTS_READ,
        "POST": Capability.SUBJECTS_EXPORT,
    }
    serializer_class = SubjectRequestSerializer
    queryset = SubjectRequest.objects.all()
    pagination_class = RequestCursorPagination

    @extend_schema(request=NewSubjectRequest, responses={201: SubjectRequestSerializer})
    def post(self, request):
        given = NewSubjectRequest(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if data["kind"] == SubjectRequest.Kind.ERASURE and not has_capability(
            request.user, Capability.SUBJECTS_ERASE
        ):
            raise PermissionDenied("Your role does not allow subjects.erase.")
        created = refused(
            requests.create_request,
            kind=data["kind"],
            identifier=data["identifier"],
            framework=data.get("framework"),
            legal_ground=data.get("legal_ground", ""),
            actor=request.user,
        )
        body = SubjectRequestSerializer(created, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class SubjectRequestDetail(generics.RetrieveAPIView):
    required_capability = Capability.SUBJECTS_READ
    serializer_class = SubjectRequestSerializer
    queryset = SubjectRequest.objects.all()


def _request(pk) -> SubjectRequest:
    return get_object_or_404(SubjectRequest, pk=pk)


class SubjectRequestExport(APIView):
    """Build the access export (or the accounting of disclosures) as a job: 202."""

    required_capability = Capability.SUBJECTS_EXPORT

    @extend_schema(request=None, responses={202: SubjectRequestSerializer})
    def post(self, request, pk):
        queued = refused(exports.request_export, _request(pk), actor=request.user)
        body = SubjectRequestSerializer(queued, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class SubjectRequestErase(APIView):
    """Carry out an erasure request; the answer carries the receipt's counts and exceptions."""

    required_capability = Capability.SUBJECTS_ERASE

    @extend_schema(request=None, responses={200: SubjectRequestSerializer})
    def post(self, request, pk):
        done = refused(erasure.erase_subject, _request(pk), actor=request.user)
        return Response(SubjectRequestSerializer(done, context={"request": request}).data)


class Extension(serializers.Serializer):
    reason = StrictCharField(max_length=2000)


class SubjectRequestExtend(APIView):
    """Extend the deadline once (GDPR +2 months, HIPAA +30 days), with the reason."""

    required_capability = Capability.SUBJECTS_EXPORT

    @extend_schema(request=Extension, responses={200: SubjectRequestSerializer})
    def post(self, request, pk):
        given = Extension(data=request.data)
        given.is_valid(raise_exception=True)
        reason = given.validated_data["reason"]
        extended = refused(requests.extend_request, _request(pk), reason, actor=request.user)
        return Response(SubjectRequestSerializer(extended, context={"request": request}).data)


class SubjectRequestFile(APIView):
    """One file of a built export: json, csv or pdf."""

    required_capability = Capability.SUBJECTS_EXPORT

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk, fmt):
        subject_request = _request(pk)
        path = renderers.file_path(subject_request, fmt) if fmt in renderers.FORMATS else None
        if path is None or not path.is_file():
            raise NotFound(f"request {subject_request.reference} has no {fmt} file (yet)")
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=path.name,
            content_type=renderers.CONTENT_TYPES[fmt],
        )
        response.trail_details = {"request": str(subject_request.pk), "format": fmt}
        return response


class AgentDeclarationSerializer(StrictModelSerializer):
    class Meta:
        model = AgentDeclaration
        fields = [
            "agent_id",
            "purposes",
            "recipients",
            "categories",
            "legal_basis",
            "retention_floor_days",
            "floor_source",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        # a PostgreSQL integer, and no floor beyond a century (a huge one was a 500)
        extra_kwargs = {"retention_floor_days": {"min_value": 0, "max_value": 36_500}}


class AgentDeclarationList(generics.ListAPIView):
    """Each agent's record of processing (GDPR Art. 30); POST declares or replaces one."""

    required_capability = {"GET": Capability.SUBJECTS_READ, "POST": Capability.SUBJECTS_EXPORT}
    serializer_class = AgentDeclarationSerializer
    queryset = AgentDeclaration.objects.order_by("agent_id")

    @extend_schema(request=AgentDeclarationSerializer, responses={200: AgentDeclarationSerializer})
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "the body must be a JSON object"})
        given = AgentDeclarationSerializer(data=request.data)
        if not given.is_valid():
            agent_id = str(request.data.get("agent_id"))
            if "\x00" in agent_id:  # PostgreSQL text holds no NUL: no such declaration
                raise ValidationError(given.errors)
            existing = AgentDeclaration.objects.filter(agent_id=agent_id)
            if not existing.exists():
                raise ValidationError(given.errors)
            given = AgentDeclarationSerializer(existing.get(), data=request.data)
            given.is_valid(raise_exception=True)
        declared = declarations.declare_processing(given.validated_data, actor=request.user)
        return Response(AgentDeclarationSerializer(declared).data)


_COUNTS = inline_serializer(
    "SubjectRequestCounts",
    {
        "open": serializers.IntegerField(),
        "overdue": serializers.IntegerField(),
        "due_within_7_days": serializers.IntegerField(),
    },
)


class SubjectRequestCounts(APIView):
    """Open, overdue and soon-due requests: for the overview and alerting."""

    required_capability = Capability.SUBJECTS_READ

    @extend_schema(responses={200: _COUNTS})
    def get(self, request):
        return Response(deadlines.request_counts())


# Included under /api/v1/ by obsportal.urls.
urlpatterns = [
    path("subject-requests/", SubjectRequestList.as_view(), name="subject-request-list"),
    path("subject-requests/counts/", SubjectRequestCounts.as_view(), name="subject-request-counts"),
    path(
        "subject-requests/<uuid:pk>/", SubjectRequestDetail.as_view(), name="subject-request-detail"
    ),
    path(
        "subject-requests/<uuid:pk>/export/",
        SubjectRequestExport.as_view(),
        name="subject-request-export",
    ),
    path(
        "subject-requests/<uuid:pk>/erase/",
        SubjectRequestErase.as_view(),
        name="subject-request-erase",
    ),
    path(
        "subject-requests/<uuid:pk>/extend/",
        SubjectRequestExtend.as_view(),
        name="subject-request-extend",
    ),
    path(
        "subject-requests/<uuid:pk>/files/<str:fmt>/",
        SubjectRequestFile.as_view(),
        name="subject-request-file",
    ),
    path("agent-declarations/", AgentDeclarationList.as_view(), name="agent-declaration-list"),
]
