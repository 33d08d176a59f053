"""REST API of ingestion: the HTTP ingest endpoint (the agents' other door is the Celery task).

The token is checked from the header before a byte of the body is read: a request
without a live token costs its headers only (no read, no parse, no dead letter). Then
the media type, the credential's allowance (obsportal.ingest.limits) and the size; then
the body is read in bounded pieces, declared or chunked, and parsed strictly
(obsportal.ingest.body).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.roles import Capability
from obsportal.accounts.services import InvalidIngestToken, agent_for_token, credential_key
from obsportal.ingest import body, limits
from obsportal.ingest.services import admit_batch, refuse_batch
from obsportal.ingest.verdicts import MAX_BATCH_EVENTS, AdmitResult, BatchRefused, Reason
from obsportal.telemetry.ingest import observed_admission
from obsportal.telemetry.metrics import INGEST_THROTTLED, record_admission

# HTTP status of each refusal: the credential (401), the agent's rights (403), size (413),
# a fork (409: the server holds a different event at that seq), the body's media type (415),
# the credential's allowance (429); anything else is the input (400).
REFUSAL_STATUS = {
    Reason.BAD_TOKEN: status.HTTP_401_UNAUTHORIZED,
    Reason.WRONG_AGENT: status.HTTP_403_FORBIDDEN,
    Reason.AGENT_KEY_MISMATCH: status.HTTP_403_FORBIDDEN,
    Reason.OVERSIZED: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    Reason.FORK: status.HTTP_409_CONFLICT,
    Reason.UNSUPPORTED_MEDIA_TYPE: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    Reason.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
}


class IngestBatchView(APIView):
    """POST a batch of journal events with the agent's ingest token (`Authorization: Bearer`)."""

    authentication_classes: list = []
    # The agent role's one capability; its ingest token is checked here (401 before the
    # body is read) and by admit_batch, which refuses another agent's stream (403).
    required_capability = Capability.INGEST_WRITE
    permission_classes = [AllowAny]
    # The body is read and parsed here, bounded, not by DRF's parser.
    parser_classes: list = []

    @extend_schema(
        request=inline_serializer(
            "IngestBatch",
            {
                "events": serializers.ListField(
                    child=serializers.DictField(), max_length=MAX_BATCH_EVENTS
                ),
                # {"v": 1, "stream", "seq", "hash", "key", "sig"}: the agent's signature
                # over each stream's head (format obsportal/stream-head/v1).
                "heads": serializers.ListField(child=serializers.DictField(), required=False),
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
        try:
            agent_id = agent_for_token(token)
        except InvalidIngestToken as exc:
            return self._refused(Reason.BAD_TOKEN, str(exc))
        media_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return self._refused(
                Reason.UNSUPPORTED_MEDIA_TYPE,
                f"the request body must be application/json, not {media_type[:60] or 'untyped'}",
                agent_id,
            )
        raw = b""
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
            limits.charge(credential_key(token), max(0, declared))
            raw = body.read_body(request, settings.OBSPORTAL_INGEST_MAX_BYTES)
            if not declared and raw:  # chunked: its size is known once read
                limits.charge(credential_key(token), len(raw), requests=0)
            batch = body.parse_body(raw)
        except limits.Throttled as throttled:
            INGEST_THROTTLED.labels(agent_id, throttled.limit).inc()
            response = self._refused(Reason.RATE_LIMITED, throttled.reason, agent_id)
            response["Retry-After"] = str(throttled.retry_after)
            return response
        except body.BodyTooLarge as exc:
            return self._refused(Reason.OVERSIZED, str(exc), agent_id)
        except BatchRefused as refused:
            return self._answer(
                refuse_batch(None, refused.code, refused.reason, agent_id=agent_id, raw=raw)
            )
        admitted = {"token": token, "events": batch.get("events")}
        if "heads" in batch:  # the agent's signed stream heads (obsportal.ingest.heads)
            admitted["heads"] = batch["heads"]
        return self._answer(observed_admission(admit_batch, admitted))

    def _refused(self, code: Reason, reason: str, agent_id: str = "") -> Response:
        """A refusal decided before the body was read: counted, answered, not dead-lettered."""
        verdict = AdmitResult(status="rejected", agent_id=agent_id, reason_code=code, reason=reason)
        record_admission(verdict, None, 0.0)
        return self._answer(verdict)

    def _answer(self, verdict: AdmitResult) -> Response:
        if verdict.status == "accepted":
            return Response(verdict.as_dict())
        code = REFUSAL_STATUS.get(verdict.reason_code, status.HTTP_400_BAD_REQUEST)
        return Response(verdict.as_dict(), status=code)


# Included under /api/v1/ by obsportal.urls.
urlpatterns = [
    path("ingest", IngestBatchView.as_view(), name="ingest"),
]
