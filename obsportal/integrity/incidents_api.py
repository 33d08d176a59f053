"""REST API of incidents (forks, gaps, checkpoint incidents, findings), dead letters and
"verify now": the counterparts of the integrity pages, with the same selectors and scope."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal import params  # noqa: F401 - registers the stream_id path converter
from obsportal.accounts.roles import Capability
from obsportal.ingest.models import RejectedBatch
from obsportal.integrity import acknowledgements, incidents, reader_scope
from obsportal.integrity.models import VerificationRequest
from obsportal.integrity.verify_now import UnknownStream, request_verification
from obsportal.pagination import CheckedCursorPagination

INCIDENTS_PER_PAGE = 100


def refuse_empty(query, names: tuple[str, ...]) -> None:
    """The API is strict where the pages' forms are not: an empty value of a parameter with
    an enumeration or a format (kind, state, a time, a page) is a 400; an empty free-text
    filter (agent_id, stream) means no filter, as on the pages."""
    for name in names:
        if name in query and not query[name]:
            raise ValidationError({name: ["give a value, or leave the parameter out"]})


class AcknowledgementSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(incidents.INCIDENT_KINDS))
    fingerprint = serializers.CharField(
        help_text="what the incident is: a row, a missing range, a stream's problem"
    )
    summary = serializers.CharField(help_text="the incident as it read when acknowledged")
    note = serializers.CharField()
    acknowledged_by = serializers.CharField()
    acknowledged_at = serializers.DateTimeField()
    on_trail = serializers.BooleanField(
        help_text="false: no trail event records this acknowledgement (written behind the "
        "portal's back)"
    )


class IncidentSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(incidents.INCIDENT_KINDS))
    ref = serializers.CharField(help_text="the key of its detail: a number, or a stream id")
    stream_id = serializers.CharField(allow_null=True)
    agent_id = serializers.CharField(allow_null=True)
    detected_at = serializers.DateTimeField(allow_null=True)
    summary = serializers.CharField()
    fingerprint = serializers.CharField()
    acknowledgement = AcknowledgementSerializer(allow_null=True)


class IncidentList(APIView):
    """Every incident in the caller's scope, newest first, a page of 100 at a time."""

    required_capability = Capability.STREAMS_READ

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=list(incidents.INCIDENT_KINDS)),
            OpenApiParameter("state", str, enum=list(incidents.INCIDENT_STATES)),
            OpenApiParameter("stream", str),
            OpenApiParameter("agent_id", str),
            OpenApiParameter("page", int),
        ],
        responses=inline_serializer(
            "IncidentPage",
            {
                "page": serializers.IntegerField(),
                "has_more": serializers.BooleanField(),
                "results": IncidentSerializer(many=True),
            },
        ),
    )
    def get(self, request):
        refuse_empty(request.query_params, ("kind", "state", "page"))
        try:
            rows, number = incidents.incident_page(
                request.user, request.query_params, INCIDENTS_PER_PAGE
            )
        except reader_scope.InvalidFilter as exc:
            raise ValidationError(exc.errors) from exc
        shown = rows[:INCIDENTS_PER_PAGE]
        acknowledged = acknowledgements.acknowledgements_of(shown)
        results = [
            {**vars(i), "acknowledgement": acknowledged.get((i.kind, i.fingerprint))} for i in shown
        ]
        return Response(
            {
                "page": number,
                "has_more": len(rows) > INCIDENTS_PER_PAGE,
                "results": IncidentSerializer(results, many=True).data,
            }
        )


class AcknowledgementRequest(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(incidents.INCIDENT_KINDS))
    ref = serializers.CharField(max_length=200, help_text="the incident's `ref` in the list")
    note = serializers.CharField(
        max_length=acknowledgements.NOTE_MAX_CHARACTERS,
        help_text="what was found and what was done about it",
    )


class Acknowledgements(APIView):
    """Acknowledgements of incidents (GET, newest first), and acknowledging one (POST).

    Acknowledging changes no verdict and hides no incident: the incident stays listed with
    its acknowledgement, and the acknowledgement is an event of the portal's trail."""

    required_capability = {
        "GET": Capability.STREAMS_READ,
        "POST": Capability.INCIDENTS_ACKNOWLEDGE,
    }
    parser_classes = [JSONParser]

    @extend_schema(responses=AcknowledgementSerializer(many=True))
    def get(self, request):
        rows = acknowledgements.acknowledgement_list()
        if not reader_scope.sees_everything(request.user):
            # A scoped reader sees only those of incidents in its scope.
            seen = {(i.kind, i.fingerprint) for i in incidents.incidents(request.user, {})}
            rows = [row for row in rows if (row.kind, row.fingerprint) in seen]
        return Response(AcknowledgementSerializer(rows, many=True).data)

    @extend_schema(
        request=AcknowledgementRequest,
        responses={201: AcknowledgementSerializer},
    )
    def post(self, request):
        given = AcknowledgementRequest(data=request.data)
        given.is_valid(raise_exception=True)
        kind, ref = given.validated_data["kind"], given.validated_data["ref"]
        try:
            row = acknowledgements.acknowledge(
                request.user, kind, ref, given.validated_data["note"]
            )
        except acknowledgements.UnknownIncident as exc:
            raise NotFound(str(exc)) from exc
        except acknowledgements.AlreadyAcknowledged as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except acknowledgements.AcknowledgementRefused as exc:
            raise ValidationError({"note": [str(exc)]}) from exc
        shown = acknowledgements.as_shown(row)
        return Response(AcknowledgementSerializer(shown).data, status=status.HTTP_201_CREATED)


class ForkDetail(APIView):
    """A fork: the stored original and the refused candidate at the same seq, as envelopes."""

    required_capability = Capability.STREAMS_READ

    @extend_schema(
        responses=inline_serializer(
            "Fork",
            {
                "id": serializers.IntegerField(),
                "stream_id": serializers.CharField(),
                "seq": serializers.IntegerField(),
                "detected_at": serializers.DateTimeField(),
                "stored_hash": serializers.CharField(),
                "offered_hash": serializers.CharField(),
                "original": serializers.DictField(allow_null=True),
                "candidate": serializers.DictField(),
                "differing_fields": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request, pk: int):
        sides = incidents.fork_sides(request.user, pk)
        if sides is None:
            raise NotFound(f"no fork {pk}")
        row = sides.incident
        return Response(
            {
                "id": row.pk,
                "stream_id": row.stream_id,
                "seq": row.seq,
                "detected_at": row.detected_at,
                "stored_hash": row.stored_hash,
                "offered_hash": row.offered_hash,
                "original": sides.original,
                "candidate": sides.candidate,
                "differing_fields": [name for name, _, _, differs in sides.fields if differs],
            }
        )


class DeadLetterSerializer(serializers.ModelSerializer):
    class Meta:
        model = RejectedBatch
        fields = ["id", "received_at", "agent_id", "reason_code", "reason", "event_count"]


class DeadLetterDetailSerializer(DeadLetterSerializer):
    class Meta(DeadLetterSerializer.Meta):
        fields = [*DeadLetterSerializer.Meta.fields, "sample"]


class NewestFirst(CheckedCursorPagination):
    ordering = ("-id",)
    page_size = 100


class DeadLetterList(generics.ListAPIView):
    """Refused batches (dead letters), newest first, with their reason codes."""

    required_capability = Capability.STREAMS_READ
    serializer_class = DeadLetterSerializer
    pagination_class = NewestFirst

    @extend_schema(
        parameters=[
            OpenApiParameter("reason_code", str),
            OpenApiParameter("agent_id", str),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RejectedBatch.objects.none()
        refuse_empty(self.request.query_params, ("since", "until"))
        try:
            return incidents.dead_letters(self.request.user, self.request.query_params)
        except reader_scope.InvalidFilter as exc:
            raise ValidationError(exc.errors) from exc


class DeadLetterDetail(generics.RetrieveAPIView):
    """One dead letter with its sample, redacted as it was stored (no token, bounded)."""

    required_capability = Capability.STREAMS_READ
    serializer_class = DeadLetterDetailSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RejectedBatch.objects.none()
        return incidents.dead_letters(self.request.user, {})


class VerificationRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True)

    class Meta:
        model = VerificationRequest
        fields = [
            "id",
            "requested_at",
            "requested_by",
            "stream_id",
            "status",
            "events_total",
            "events_done",
            "run",
            "started_at",
            "finished_at",
            "error",
        ]


class VerificationRequests(APIView):
    """POST: verify now (one `stream_id`, or every stream), queued as a job once on the trail."""

    required_capability = Capability.INTEGRITY_VERIFY
    parser_classes = [JSONParser]

    @extend_schema(
        request=inline_serializer(
            "VerifyNow", {"stream_id": serializers.CharField(required=False)}
        ),
        responses={202: VerificationRequestSerializer},
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": 'the body is a JSON object: {"stream_id": ...} or {}'})
        stream_id = request.data.get("stream_id")
        if "stream_id" in request.data and not isinstance(stream_id, str):
            raise ValidationError({"stream_id": ["a stream id (a string)"]})
        if stream_id is not None and not reader_scope.stream_in_scope(request.user, stream_id):
            raise NotFound(f"no stream {stream_id}")
        if stream_id is None and not reader_scope.sees_everything(request.user):
            raise ValidationError({"stream_id": ["a scoped role verifies one stream at a time"]})
        try:
            job = request_verification(request.user, stream_id)
        except UnknownStream as exc:
            raise NotFound(str(exc)) from exc
        return Response(VerificationRequestSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class VerificationRequestDetail(generics.RetrieveAPIView):
    """A verify-now request: queued, running (events walked so far) or finished, with its run."""

    required_capability = Capability.STREAMS_READ
    serializer_class = VerificationRequestSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return VerificationRequest.objects.none()
        return reader_scope.visible_verification_requests(self.request.user)


urlpatterns = [
    path("incidents/", IncidentList.as_view(), name="incident-list"),
    path(
        "incidents/acknowledgements/",
        Acknowledgements.as_view(),
        name="incident-acknowledgements",
    ),
    path("incidents/forks/<int:pk>/", ForkDetail.as_view(), name="fork-detail"),
    path("dead-letters/", DeadLetterList.as_view(), name="dead-letter-list"),
    path("dead-letters/<int:pk>/", DeadLetterDetail.as_view(), name="dead-letter-detail"),
    path(
        "verifications/requests/",
        VerificationRequests.as_view(),
        name="verification-request-list",
    ),
    path(
        "verifications/requests/<int:pk>/",
        VerificationRequestDetail.as_view(),
        name="verification-request-detail",
    ),
]
