"""REST API of streams, their verification history, checkpoints, proofs and evidence bundles."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal import params  # noqa: F401 - registers the stream_id path converter
from obsportal.accounts.permissions import visible_streams
from obsportal.accounts.roles import Capability
from obsportal.ingest.models import Stream
from obsportal.integrity import (
    evidence_api,
    incidents,
    incidents_api,
    reader_scope,
    selectors,
    stream_states,
)
from obsportal.integrity.checkpoints import HeadNotInCheckpoint, inclusion_proof_of
from obsportal.integrity.erasures import personal_data_state
from obsportal.integrity.models import (
    StreamVerification,
    VerificationRun,
)
from obsportal.integrity.serializers import (
    CheckpointIncidentSerializer,
    CheckpointSerializer,
    StreamDetailSerializer,
    StreamSerializer,
    StreamVerificationSerializer,
    VerificationRunSerializer,
)
from obsportal.integrity.signing import SigningKeyMissing, load_signing_key
from obsportal.pagination import CheckedCursorPagination


class ById(CheckedCursorPagination):
    ordering = ("id",)
    page_size = 100


class NewestFirst(ById):
    ordering = ("-id",)


class ByNumberNewestFirst(ById):
    ordering = ("-number",)


class StreamList(generics.ListAPIView):
    """Streams with their head and the result of their last verification; `state` and
    `agent_id` filter them as the streams page does."""

    required_capability = Capability.STREAMS_READ
    serializer_class = StreamSerializer
    pagination_class = ById

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=list(stream_states.STREAM_STATES)),
            OpenApiParameter("agent_id", str),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        incidents_api.refuse_empty(self.request.query_params, ("state",))
        try:
            return stream_states.stream_list(self.request.user, self.request.query_params)
        except reader_scope.InvalidFilter as exc:
            raise ValidationError(exc.errors) from exc


class StreamDetail(generics.RetrieveAPIView):
    required_capability = Capability.STREAMS_READ
    serializer_class = StreamDetailSerializer
    lookup_field = "id"
    lookup_url_kwarg = "stream_id"

    def get_queryset(self):
        return visible_streams(selectors.streams_with_last_verification(), self.request.user)


class StreamPersonalData(APIView):
    """Which committed personal-data fields of a stream the portal no longer holds, the
    request that erased each (by a receipt signed with the portal key), and those no
    request explains: what `agents-sdk crosscheck` compares with the journal."""

    required_capability = Capability.STREAMS_READ

    @extend_schema(
        responses={
            200: inline_serializer(
                "StreamPersonalData",
                {
                    "stream": serializers.CharField(),
                    "missing": serializers.ListField(child=serializers.ListField()),
                    "erased": serializers.ListField(child=serializers.DictField()),
                    "unexplained": serializers.ListField(child=serializers.ListField()),
                    "receipts": serializers.ListField(child=serializers.DictField()),
                },
            )
        }
    )
    def get(self, request, stream_id: str):
        ensure_stream_readable(request.user, stream_id)
        if not Stream.objects.filter(pk=stream_id).exists():
            raise NotFound(f"no stream {stream_id}")
        return Response(personal_data_state(stream_id))


class StreamVerificationList(generics.ListAPIView):
    """A stream's verification history, newest first."""

    required_capability = Capability.STREAMS_READ
    serializer_class = StreamVerificationSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return StreamVerification.objects.none()
        stream_id = self.kwargs["stream_id"]
        ensure_stream_readable(self.request.user, stream_id)
        known = Stream.objects.filter(pk=stream_id).exists()
        history = selectors.stream_verifications(stream_id)
        if not known and not history.exists():
            raise NotFound(f"no stream {stream_id}")
        return history


class CheckpointList(generics.ListAPIView):
    """Signed checkpoints, newest first; `note` is the C2SP signed-note text. A scoped
    auditor lists only those that sign a head of its streams, within its period."""

    required_capability = Capability.STREAMS_READ
    serializer_class = CheckpointSerializer
    pagination_class = ByNumberNewestFirst

    def get_queryset(self):
        return reader_scope.visible_checkpoints(self.request.user)


class VerificationRunList(generics.ListAPIView):
    """Verification runs, newest first, with the problems found in the checkpoint chain."""

    required_capability = Capability.STREAMS_READ
    queryset = VerificationRun.objects.all()
    serializer_class = VerificationRunSerializer
    pagination_class = NewestFirst


class LatestVerificationRun(generics.RetrieveAPIView):
    """The newest finished run: what the portal can say about its checkpoints right now."""

    required_capability = Capability.STREAMS_READ
    serializer_class = VerificationRunSerializer

    def get_object(self):
        run = VerificationRun.objects.exclude(finished_at=None).order_by("-id").first()
        if run is None:
            raise NotFound("no verification run has finished yet")
        return run


class CheckpointIncidentList(generics.ListAPIView):
    """Incidents recorded while signing: a predecessor missing from, or differing in, a copy."""

    required_capability = Capability.STREAMS_READ
    serializer_class = CheckpointIncidentSerializer

    def get_queryset(self):
        return incidents.checkpoint_incidents(self.request.user)

    pagination_class = NewestFirst


class CheckpointDetail(generics.RetrieveAPIView):
    required_capability = Capability.STREAMS_READ
    serializer_class = CheckpointSerializer
    lookup_field = "number"

    def get_queryset(self):
        return reader_scope.visible_checkpoints(self.request.user)


class CheckpointNote(APIView):
    """The checkpoint as `text/plain` signed note, as transparency-log tools read it."""

    required_capability = Capability.STREAMS_READ

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request, number: int):
        checkpoint = get_object_or_404(
            reader_scope.visible_checkpoints(request.user), number=number
        )
        response = HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="checkpoint-{number}.note"'
        return response


class InclusionProof(APIView):
    """RFC 6962 inclusion proof of a stream's head in a checkpoint (base64 audit path)."""

    required_capability = Capability.STREAMS_READ

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, number: int, stream_id: str):
        ensure_stream_readable(request.user, stream_id)
        checkpoint = get_object_or_404(
            reader_scope.visible_checkpoints(request.user), number=number
        )
        try:
            return Response(inclusion_proof_of(checkpoint, stream_id))
        except HeadNotInCheckpoint as exc:
            raise NotFound(str(exc)) from exc


class PublicKey(APIView):
    """The checkpoint verification key, as PEM (SPKI) and as a signed-note verifier key."""

    required_capability = Capability.STREAMS_READ

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pem: bool = False):
        try:
            key = load_signing_key()
        except SigningKeyMissing as exc:
            raise NotFound(str(exc)) from exc
        if pem:
            return HttpResponse(key.public_pem, content_type="application/x-pem-file")
        return Response(
            {
                "name": key.name,
                "key_id": key.key_id,
                "verifier_key": key.verifier_key,
                "pem": key.public_pem,
            }
        )


def ensure_stream_readable(user, stream_id: str) -> None:
    """A stream outside the user's scope is not found, as if it did not exist."""
    if not selectors.stream_readable(user, stream_id):
        raise NotFound(f"no stream {stream_id}")


# Included under /api/v1/ by obsportal.urls (the evidence endpoints are in evidence_api).
urlpatterns = [
    path("streams/", StreamList.as_view(), name="stream-list"),
    # Verifications first: an old stream id may hold '/'.
    path(
        "streams/<stream_id:stream_id>/verifications/",
        StreamVerificationList.as_view(),
        name="stream-verifications",
    ),
    path(
        "streams/<stream_id:stream_id>/personal-data/",
        StreamPersonalData.as_view(),
        name="stream-personal-data",
    ),
    path("streams/<stream_id:stream_id>/", StreamDetail.as_view(), name="stream-detail"),
    path("checkpoints/", CheckpointList.as_view(), name="checkpoint-list"),
    path(
        "checkpoints/incidents/",
        CheckpointIncidentList.as_view(),
        name="checkpoint-incidents",
    ),
    path("verifications/", VerificationRunList.as_view(), name="verification-list"),
    path("verifications/latest/", LatestVerificationRun.as_view(), name="verification-latest"),
    path("checkpoints/public-key/", PublicKey.as_view(), name="checkpoint-key"),
    path(
        "checkpoints/public-key.pem",
        PublicKey.as_view(),
        {"pem": True},
        name="checkpoint-key-pem",
    ),
    path("checkpoints/<int:number>/", CheckpointDetail.as_view(), name="checkpoint-detail"),
    path("checkpoints/<int:number>/note", CheckpointNote.as_view(), name="checkpoint-note"),
    path(
        "checkpoints/<int:number>/proofs/<stream_id:stream_id>/",
        InclusionProof.as_view(),
        name="checkpoint-proof",
    ),
    *incidents_api.urlpatterns,
    path("evidence/", evidence_api.EvidenceBundle.as_view(), name="evidence-bundle"),
    path("evidence/exports/", evidence_api.EvidenceExports.as_view(), name="evidence-exports"),
    path(
        "evidence/exports/<int:pk>/",
        evidence_api.EvidenceExportDetail.as_view(),
        name="evidence-export",
    ),
    path(
        "evidence/exports/<int:pk>/download",
        evidence_api.EvidenceExportDownload.as_view(),
        name="evidence-export-download",
    ),
]
