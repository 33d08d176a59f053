"""Real OTLP trace receivers for tests: gRPC (TraceService) and HTTP/protobuf.

    receiver = OtlpGrpcReceiver().start()      # listens on 127.0.0.1:<free port>
    ... export to receiver.endpoint ...         # "http://127.0.0.1:PORT"
    spans = receiver.wait_for(3, timeout=10)    # list[ReceivedSpan]
    receiver.stop()

Both decode what arrives into `ReceivedSpan`s (ids as lowercase hex, attribute
values as Python values) and keep them in arrival order in `receiver.spans`.
They are also context managers.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


@dataclass(frozen=True)
class ReceivedLink:
    trace_id: str
    span_id: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str
    attributes: dict[str, Any]
    status_code: str  # "UNSET", "OK" or "ERROR"
    status_message: str
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    links: list[ReceivedLink] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""

    @property
    def status(self) -> str:
        return self.status_code


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, which)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


def decode_request(request: trace_service_pb2.ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """The spans of one OTLP export request, flattened."""
    received = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                received.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        kind=Span.SpanKind.Name(span.kind),
                        attributes=_attributes(span.attributes),
                        status_code=Status.StatusCode.Name(span.status.code).removeprefix(
                            "STATUS_CODE_"
                        ),
                        status_message=span.status.message,
                        events=[(e.name, _attributes(e.attributes)) for e in span.events],
                        links=[
                            ReceivedLink(
                                link.trace_id.hex(),
                                link.span_id.hex(),
                                _attributes(link.attributes),
                            )
                            for link in span.links
                        ],
                        resource=resource,
                        scope=scope_spans.scope.name,
                    )
                )
    return received


class _Collector:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._arrived = threading.Condition()

    def _accept(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        spans = decode_request(request)
        with self._arrived:
            self.spans.extend(spans)
            self.requests += 1
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedSpan]:
        """Block until at least `count` spans arrived; return them all (a copy)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.spans) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"expected {count} spans within {timeout}s, received {len(self.spans)}: "
                        f"{[s.name for s in self.spans]}"
                    )
                self._arrived.wait(left)
            return list(self.spans)

    def by_name(self, name: str) -> list[ReceivedSpan]:
        with self._arrived:
            return [s for s in self.spans if s.name == name]

    def clear(self) -> None:
        with self._arrived:
            self.spans.clear()

    def __enter__(self) -> Any:
        return self.start()  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        self.stop()  # type: ignore[attr-defined]


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, collector: _Collector):
        self._collector = collector

    def Export(self, request, context):  # noqa: N802 - the gRPC method name
        self._collector._accept(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpGrpcReceiver(_Collector):
    """An OTLP/gRPC TraceService on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, port: int = 0):
        super().__init__()
        self._requested_port = port
        self._server: grpc.Server | None = None
        self.port: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpGrpcReceiver:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self._server)
        self.port = self._server.add_insecure_port(f"127.0.0.1:{self._requested_port}")
        self._server.start()
        return self

    def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            self._server.stop(grace).wait(grace + 1)
            self._server = None


class OtlpHttpReceiver(_Collector):
    """An OTLP/HTTP (protobuf) receiver: POST /v1/traces on 127.0.0.1."""

    def __init__(self, port: int = 0):
        super().__init__()
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self.port: int | None = None
        self.content_types: list[str] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpHttpReceiver:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                collector.content_types.append(self.headers.get("Content-Type", ""))
                request = trace_service_pb2.ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except Exception:
                    self.send_error(400, "not an ExportTraceServiceRequest")
                    return
                collector._accept(request)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._requested_port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
