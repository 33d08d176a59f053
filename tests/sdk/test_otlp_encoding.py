"""The SDK's OTLP encoder writes the same bytes as the upstream OpenTelemetry encoder."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from agents_sdk.otlp_encoding import SpanEncoder


def recording(resource_attributes=None):
    exporter = InMemorySpanExporter()
    resource = Resource.create(resource_attributes or {"service.name": "t"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def upstream(spans) -> bytes:
    return encode_spans(spans).SerializeToString()


def test_every_part_of_a_span_is_encoded_as_upstream_does():
    provider, exporter = recording({"service.name": "agent", "deployment.environment": "test"})
    tracer = provider.get_tracer("agents_sdk")
    other_scope = provider.get_tracer(
        "tools", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.26.0",
        attributes={"scope.kind": "tools"},
    )  # fmt: skip
    remote_parent = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    linked = SpanContext(0x1234, 0x5678, is_remote=False)
    with tracer.start_as_current_span(
        "invoke_agent planner",
        context=set_span_in_context(NonRecordingSpan(remote_parent)),
        kind=SpanKind.SERVER,
        attributes={"gen_ai.operation.name": "invoke_agent", "retries": 3, "ok": True},
        links=[Link(linked, {"link.reason": "follows"}), Link(remote_parent)],
    ) as step:
        step.add_event("thought", {"tokens": 12, "score": 0.5, "tags": ("a", "b")})
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as call:
            call.set_attribute("gen_ai.usage.input_tokens", 812)
            call.set_attribute("negative", -7)
            call.set_attribute("floats", [1.5, -0.0, math.inf])
            call.set_attribute("flags", [True, False])
            call.set_attribute("ints", [1, -(2**63), 2**63 - 1])
            call.set_attribute("empty", "")
            call.set_attribute("unicode", "naïve ✓ 𝄞")
            call.set_status(Status(StatusCode.OK))
        with other_scope.start_as_current_span("execute_tool search") as tool:
            tool.record_exception(ValueError("no such ticket"))
            tool.set_status(Status(StatusCode.ERROR, "ValueError: no such ticket"))
    # A second provider: a second resource group in the same request.
    other_provider, other_exporter = recording({"service.name": "other"})
    with other_provider.get_tracer("x").start_as_current_span("lonely", kind=SpanKind.PRODUCER):
        pass
    spans = [*exporter.get_finished_spans(), *other_exporter.get_finished_spans()]
    assert len(spans) == 4

    assert SpanEncoder().encode(spans) == upstream(spans)


def test_attribute_encodings_are_remembered_without_mixing_types_or_fields():
    provider, exporter = recording({"service.name": "same"})
    tracer = provider.get_tracer("t")
    # 1, True and 1.0 are equal (and hash alike) in Python but are three encodings;
    # the resource's "service.name" is also a span attribute here.
    for value in (1, True, 1.0, 1, True):
        with tracer.start_as_current_span("s", attributes={"v": value, "service.name": "same"}):
            pass
    encoder = SpanEncoder()
    first = exporter.get_finished_spans()
    assert encoder.encode(first) == upstream(first)
    assert encoder.encode(first[::-1]) == upstream(first[::-1])


def test_equal_resources_from_different_providers_are_one_group():
    spans = []
    for _ in range(2):
        provider, exporter = recording({"service.name": "twin"})
        with provider.get_tracer("t").start_as_current_span("s"):
            pass
        spans += exporter.get_finished_spans()
    assert spans[0].resource is not spans[1].resource
    assert SpanEncoder().encode(spans) == upstream(spans)


scalars = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.binary(max_size=20),
)
homogeneous_lists = st.one_of(
    st.lists(st.text(), max_size=4),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4),
    st.lists(st.floats(allow_nan=False), max_size=4),
    st.lists(st.booleans(), max_size=4),
)
attribute_maps = st.dictionaries(
    st.text(min_size=1, max_size=12), st.one_of(scalars, homogeneous_lists), max_size=6
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attributes=attribute_maps, event_attributes=attribute_maps, name=st.text(max_size=30))
def test_any_span_attributes_encode_as_upstream_does(attributes, event_attributes, name):
    provider, exporter = recording()
    with provider.get_tracer("t").start_as_current_span(name, attributes=attributes) as span:
        span.add_event("e", event_attributes)
    spans = exporter.get_finished_spans()
    assert SpanEncoder().encode(spans) == upstream(spans)


def test_a_value_upstream_cannot_encode_is_left_out_as_upstream_does():
    provider, exporter = recording()
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("fine", "yes")
        span.set_attribute("lone surrogate", "\udc80")
    spans = exporter.get_finished_spans()
    encoded = SpanEncoder().encode(spans)
    assert b"fine" in encoded and b"lone surrogate" not in encoded
    assert encoded == upstream(spans)


def test_the_hooks_spans_encode_as_upstream_does_each_as_it_ends():
    from agents_sdk import Observability, TracingConfig

    exporter = InMemorySpanExporter()
    obs = Observability("agent-7", tracing=TracingConfig(span_exporter=exporter))
    with obs.acting_for("alice"), obs.step("answer"):
        with obs.tool_call("search") as call:
            obs.permission_request("tickets.read", True)
            call.span.add_link(SpanContext(0x1234, 0x5678, is_remote=True), {"why": "retry"})
        try:
            with obs.llm_call("openai", "gpt-4o") as llm:
                llm.report(input_tokens=12, output_tokens=3, cost_usd=0.25)
                raise ValueError("the model is down")
        except ValueError:
            pass
    obs.shutdown()
    spans = exporter.get_finished_spans()
    assert len(spans) == 3 and {type(s).__name__ for s in spans} == {"AgentSpan"}
    encoder = SpanEncoder()
    # Each span encoded alone as it ended, then the batch framed: upstream's bytes.
    assert encoder.encode_encoded([encoder.encode_span(s) for s in spans]) == upstream(spans)
    assert encoder.encode(spans) == upstream(spans)
