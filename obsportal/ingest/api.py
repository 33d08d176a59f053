"""REST API of ingestion: the HTTP ingest endpoint (the agents' other door is the Celery task)."""

from __future__ import annotations

import orjson
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.roles import Capability
from obsportal.ingest.services import admit_batch, refuse_batch
from obsportal.ingest.verdicts import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, AdmitResult, Reason
from obsportal.telemetry.ingest import observed_admission

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


# Included under /api/v1/ by obsportal.urls.
urlpatterns = [
    path("ingest", IngestBatchView.as_view(), name="ingest"),
]
