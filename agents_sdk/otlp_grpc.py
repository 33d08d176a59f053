"""The OTLP/gRPC span exporter, encoding its requests with `otlp_encoding`.

Everything else (channel, retries, timeouts, compression, `OTEL_*` settings) is
the upstream exporter's. The gRPC stub takes a message, so the bytes are parsed
back into one: that parse runs in C and costs a fraction of building the
message in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan

from agents_sdk.otlp_encoding import SpanEncoder


class GrpcSpanExporter(OTLPSpanExporter):
    """OTLPSpanExporter with the SDK's encoder; its arguments and behaviour otherwise."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._encoder = SpanEncoder()

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(
            self._encoder.encode(data)
        )
        return request
