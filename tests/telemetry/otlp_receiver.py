"""A real OTLP/gRPC trace receiver for tests: collects the spans exporters send it.

(The SDK's branch brings tests/support/otlp_receiver.py; this minimal one serves the
portal's tests until the two are merged.)
"""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver):
        self.receiver = receiver

    def Export(self, request, context):  # noqa: N802 - the gRPC method name
        with self.receiver.lock:
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.receiver.spans.append((service, span))
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[tuple[str, trace_pb2.Span]] = []
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OtlpReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(grace=None)

    def wait_for(self, predicate, timeout: float = 30.0) -> list[tuple[str, trace_pb2.Span]]:
        """Wait until some received span satisfies `predicate(service, span)`; return those."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [(s, span) for s, span in self.spans if predicate(s, span)]
            if found:
                return found
            time.sleep(0.2)
        with self.lock:
            seen = sorted({(s, span.name) for s, span in self.spans})
        raise AssertionError(f"no matching span within {timeout} s; received: {seen}")
