"""REST API of audit events: filtered, cursor-paginated queries and the HTTP ingest endpoint."""

from __future__ import annotations

import django_filters
import orjson
from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.permissions import visible_events
from obsportal.accounts.roles import Capability
from obsportal.ingest import selectors
from obsportal.ingest.models import ENVELOPE_COLUMNS, AuditEvent
from obsportal.ingest.services import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    AdmitResult,
    Reason,
    admit_batch,
    refuse_batch,
)
from obsportal.telemetry.ingest import observed_admission


class AuditEventSerializer(serializers.ModelSerializer):
    """An event in envelope-v1 form (the hashed body plus `hash`)."""

    class Meta:
        model = AuditEvent
        fields = list(ENVELOPE_COLUMNS)

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

    required_capability = Capability.EVENTS_READ
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        requested = self.request.query_params.get("agent_id")
        return visible_events(AuditEvent.objects.all(), self.request.user, requested)


class AuditEventDetail(generics.RetrieveAPIView):
    required_capability = Capability.EVENTS_READ
    serializer_class = AuditEventSerializer
    lookup_field = "event_id"

    def get_queryset(self):
        # An event outside the caller's scope is not found, as if it did not exist; a
        # trail event is found by its id for a role with trail.read.
        trail = settings.OBSPORTAL_TRAIL_AGENT_ID
        return visible_events(AuditEvent.objects.all(), self.request.user, trail)


# HTTP status of each refusal: the credential (401), the agent's rights (403), size (413),
# a fork (409: the server holds a different event at that seq); anything else is the input (400).
REFUSAL_STATUS = {
    Reason.BAD_TOKEN: status.HTTP_401_UNAUTHORIZED,
    Reason.WRONG_AGENT: status.HTTP_403_FORBIDDEN,
    Reason.OVERSIZED: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    Reason.FORK: status.HTTP_409_CONFLICT,
}


class IngestBatchView(APIView):
    """POST a batch of journal events with the agent's ingest token (`Authorization: Bearer`)."""

    authentication_classes: list = []
    # The agent role's one capability; its ingest token is checked by admit_batch, which
    # refuses a missing, unknown or revoked one (401) and another agent's stream (403).
    required_capability = Capability.INGEST_WRITE
    permission_classes = [AllowAny]
    # The body is read and parsed here (not by DRF's parser) so that a body that is not
    # JSON, or too large, is refused with a verdict and a dead letter like any other batch.
    parser_classes: list = []

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
                    "reason_code": serializers.ChoiceField(choices=[r.value for r in Reason]),
                    "reason": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request):
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
        verdict = self._refused_body(request)
        if verdict is None:
            body = self._parsed
            events = body.get("events") if isinstance(body, dict) else body
            verdict = observed_admission(admit_batch, {"token": token, "events": events})
        if verdict.status == "accepted":
            return Response(verdict.as_dict())
        code = REFUSAL_STATUS.get(verdict.reason_code, status.HTTP_400_BAD_REQUEST)
        return Response(verdict.as_dict(), status=code)

    def _refused_body(self, request) -> AdmitResult | None:
        """Read and parse the body; the verdict when it cannot be a batch at all."""
        try:
            declared = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BATCH_BYTES:
            return refuse_batch(
                None,
                Reason.OVERSIZED,
                f"the request body is {declared} bytes; the limit is {MAX_BATCH_BYTES}",
            )
        raw = request._request.read(MAX_BATCH_BYTES + 1)
        if len(raw) > MAX_BATCH_BYTES:
            return refuse_batch(
                None, Reason.OVERSIZED, f"the request body exceeds {MAX_BATCH_BYTES} bytes"
            )
        try:
            self._parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            sample = raw[:2000].decode("utf-8", "replace")
            return refuse_batch(
                sample, Reason.MALFORMED_JSON, f"the request body is not valid JSON: {exc}"
            )
        return None
