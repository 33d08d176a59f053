"""REST API of audit events: filtered, cursor-paginated queries and the HTTP ingest endpoint."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.ingest import selectors
from obsportal.ingest.models import AuditEvent
from obsportal.ingest.services import MAX_BATCH_EVENTS, admit_batch
from obsportal.telemetry.ingest import observed_admission


class AuditEventSerializer(serializers.ModelSerializer):
    """An event in envelope-v1 form (the hashed body plus `hash`)."""

    class Meta:
        model = AuditEvent
        fields = [
            "event_id",
            "stream",
            "seq",
            "ts",
            "agent_id",
            "action",
            "result",
            "user_id",
            "resource",
            "details",
            "trace_id",
            "span_id",
            "pii_commitments",
            "prev_hash",
            "hash",
        ]

    def to_representation(self, instance: AuditEvent) -> dict:
        return selectors.as_envelope(instance)


class AuditEventFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(
        field_name="ts", lookup_expr="gte", help_text="events at or after this time (ISO 8601)"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="ts", lookup_expr="lt", help_text="events before this time (ISO 8601)"
    )

    class Meta:
        model = AuditEvent
        fields = ["agent_id", "action", "result", "user_id", "stream", "trace_id", "resource"]


class EventCursorPagination(CursorPagination):
    ordering = ("-ts", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000


class AuditEventList(generics.ListAPIView):
    """Audit events, newest first; filter by agent, action, result, user, stream, time range."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = EventCursorPagination


class AuditEventDetail(generics.RetrieveAPIView):
    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    lookup_field = "event_id"


class IngestBatchView(APIView):
    """POST a batch of journal events with the agent's ingest token (`Authorization: Bearer`)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]  # the ingest token is checked by the service
    parser_classes = [JSONParser]

    @extend_schema(
        request=inline_serializer(
            "IngestBatch",
            {
                "events": serializers.ListField(
                    child=serializers.DictField(), max_length=MAX_BATCH_EVENTS
                )
            },
        ),
        responses={
            200: inline_serializer(
                "IngestVerdict",
                {
                    "status": serializers.CharField(),
                    "admitted": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "forks": serializers.IntegerField(),
                    "pending": serializers.IntegerField(),
                    "reason_code": serializers.CharField(),
                    "reason": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request):
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
        body = request.data if isinstance(request.data, dict) else {"events": request.data}
        verdict = observed_admission(admit_batch, {"token": token, "events": body.get("events")})
        if verdict.status == "accepted":
            return Response(verdict.as_dict())
        code = (
            status.HTTP_401_UNAUTHORIZED
            if verdict.reason_code == "bad_token"
            else (
                status.HTTP_403_FORBIDDEN
                if verdict.reason_code == "wrong_agent"
                else status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
                if verdict.reason_code == "oversized"
                else status.HTTP_400_BAD_REQUEST
            )
        )
        return Response(verdict.as_dict(), status=code)
