"""The OTLP/gRPC span exporter, encoding its requests with `otlp_encoding`.

Everything else (channel, retries, timeouts, compression, `OTEL_*` settings) is
the upstream exporter's. Its gRPC stub is replaced by one that takes the request
as bytes, so the encoded request goes to the wire as it is: no protobuf message
is built in Python, nor parsed back from the bytes.

`encode_span` / `export_encoded` let `agents_sdk.span_export` encode each span as
it ends and send a batch of them later (see there why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from agents_sdk.otlp_encoding import EncodedSpan, SpanEncoder

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _as_is(request: bytes) -> bytes:
    return request


class _BytesTraceServiceStub:
    """TraceServiceStub whose Export takes the serialized ExportTraceServiceRequest."""

    def __init__(self, channel: Any):
        self.Export = channel.unary_unary(
            EXPORT_METHOD,
            request_serializer=_as_is,
            response_deserializer=ExportTraceServiceResponse.FromString,
            _registered_method=True,
        )


class _Encoded(list):  # type: ignore[type-arg]
    """A batch of spans already encoded by `encode_span`."""


class GrpcSpanExporter(OTLPSpanExporter):
    """OTLPSpanExporter with the SDK's encoder; its arguments and behaviour otherwise."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._encoder = SpanEncoder()
        # The mixin makes a new client from `_stub` when it reconnects: ours from now on.
        self._stub = _BytesTraceServiceStub
        self._client = _BytesTraceServiceStub(self._channel)  # type: ignore[assignment]

    def _translate_data(self, data: Sequence[Any]) -> Any:
        if isinstance(data, _Encoded):
            return self._encoder.encode_encoded(data)
        return self._encoder.encode(data)

    def encode_span(self, span: ReadableSpan) -> EncodedSpan:
        """One span's bytes, for `export_encoded` (any thread)."""
        return self._encoder.encode_span(span)

    def export_encoded(self, spans: list[EncodedSpan]) -> SpanExportResult:
        """Export spans encoded by `encode_span`, with the exporter's retries and timeout."""
        result: SpanExportResult = self._export(_Encoded(spans))
        return result
