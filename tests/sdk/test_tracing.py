import os
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents_sdk import AuditConfig, Observability, TracingConfig
from tests.independent_chain import read_journal
from tests.support.otlp_receiver import OtlpGrpcReceiver, OtlpHttpReceiver


@pytest.fixture
def grpc_receiver():
    with OtlpGrpcReceiver() as receiver:
        yield receiver


@pytest.fixture
def http_receiver():
    with OtlpHttpReceiver() as receiver:
        yield receiver


def run_agent_step(obs):
    with obs.step("answer"):
        with obs.llm_call("openai", "gpt-4o") as call:
            call.report(input_tokens=812, output_tokens=95, cost_usd=0.0031)
        with pytest.raises(TimeoutError), obs.tool_call("search_tickets"):
            raise TimeoutError("crm did not answer")


def metric_value(obs, name, **labels):
    for family in text_string_to_metric_families(obs.metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_spans_reach_a_grpc_receiver_with_genai_names_attributes_and_parentage(
    grpc_receiver, tmp_path
):
    obs = Observability(
        "support-agent",
        audit=AuditConfig(tmp_path / "audit.jsonl", ship=False),
        tracing=TracingConfig(
            otlp_endpoint=grpc_receiver.endpoint,
            otlp_protocol="grpc",
            service_name="support-service",
        ),
    )
    run_agent_step(obs)
    assert obs.shutdown(timeout=10)

    spans = {s.name: s for s in grpc_receiver.wait_for(3)}
    assert set(spans) == {
        "invoke_agent support-agent",
        "chat gpt-4o",
        "execute_tool search_tickets",
    }
    step, llm, tool = (
        spans["invoke_agent support-agent"],
        spans["chat gpt-4o"],
        spans["execute_tool search_tickets"],
    )
    assert step.parent_span_id is None
    assert llm.parent_span_id == step.span_id and tool.parent_span_id == step.span_id
    assert llm.trace_id == step.trace_id == tool.trace_id
    assert step.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert step.attributes["gen_ai.agent.name"] == "support-agent"
    assert step.attributes["gen_ai.agent.id"] == "support-agent"
    assert llm.attributes["gen_ai.operation.name"] == "chat"
    assert llm.attributes["gen_ai.request.model"] == "gpt-4o"
    assert llm.attributes["gen_ai.provider.name"] == "openai"
    assert llm.attributes["gen_ai.usage.input_tokens"] == 812
    assert llm.attributes["gen_ai.usage.output_tokens"] == 95
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "search_tickets"
    assert tool.status_code == "ERROR" and "crm did not answer" in tool.status_message
    assert tool.attributes["error.type"] == "TimeoutError"
    assert [name for name, _ in tool.events] == ["exception"]
    assert tool.events[0][1]["exception.type"] == "TimeoutError"
    assert step.status_code == "UNSET"
    assert step.resource["service.name"] == "support-service"

    # The audit events carry the very ids the collector received.
    events = {e["action"]: e for e in read_journal(tmp_path / "audit.jsonl")}
    assert (events["agent_step"]["trace_id"], events["agent_step"]["span_id"]) == (
        step.trace_id,
        step.span_id,
    )
    assert events["tool_execute"]["span_id"] == tool.span_id
    assert events["tool_execute"]["result"] == "error"


def test_http_protobuf_exporter_configured_by_otel_environment(http_receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", http_receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    obs = Observability("env-agent")  # tracing=None: the endpoint variable turns it on
    assert obs.tracing.enabled
    run_agent_step(obs)
    assert obs.shutdown(timeout=10)

    spans = http_receiver.wait_for(3)
    assert {s.name for s in spans} == {
        "invoke_agent env-agent",
        "chat gpt-4o",
        "execute_tool search_tickets",
    }
    assert {s.resource["service.name"] for s in spans} == {"from-env"}
    assert http_receiver.content_types[0] == "application/x-protobuf"
    step = next(s for s in spans if s.name.startswith("invoke_agent"))
    assert all(s.parent_span_id == step.span_id for s in spans if s is not step)


def test_otel_sdk_disabled_turns_tracing_off_even_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    obs = Observability("a", audit=AuditConfig(tmp_path / "j.jsonl", ship=False), tracing=True)
    assert not obs.tracing.enabled
    with obs.step("s") as step:
        pass
    obs.shutdown()
    assert step.span is None
    assert read_journal(tmp_path / "j.jsonl")[0]["trace_id"] is None


def test_traces_exporter_none_makes_spans_for_correlation_without_exporting(monkeypatch, tmp_path):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    obs = Observability("a", audit=AuditConfig(tmp_path / "j.jsonl", ship=False), tracing=True)
    assert obs.tracing.processor is None
    with obs.step("s") as step:
        pass
    obs.shutdown()
    assert len(step.trace_id) == 32 and len(step.span_id) == 16
    assert read_journal(tmp_path / "j.jsonl")[0]["trace_id"] == step.trace_id


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_full_span_queue_drops_spans_counts_them_and_shutdown_stays_bounded(caplog):
    # Nothing listens at the endpoint: the exporter retries, the bounded queue fills up.
    caplog.set_level("INFO")
    obs = Observability(
        "busy",
        metrics=True,
        tracing=TracingConfig(
            otlp_endpoint=f"http://127.0.0.1:{unused_port()}",
            otlp_protocol="grpc",
            queue_size=4,
            schedule_delay_millis=10,
        ),
    )
    for _ in range(60):
        with obs.tool_call("ping"):
            pass
    dropped = metric_value(obs, "agent_spans_dropped_total", agent_id="busy")
    # At most the queue (4) plus one batch in the exporter's hands (4) got through.
    assert 52 <= dropped <= 60
    # One warning with the count, not the SDK's "Queue full" line per span. (The exporter's
    # own "Transient error ... retrying" may come too, depending on when its first try fails.)
    assert not [r for r in caplog.records if "Queue full" in r.getMessage()]
    (warning,) = [
        r for r in caplog.records if r.levelname == "WARNING" and r.name.startswith("agents_sdk")
    ]
    assert warning.name == "agents_sdk.tracing"
    assert warning.getMessage().startswith("dropped 1 span(s)")  # the first drop, then quiet
    assert obs.tracing.counts.dropped == dropped
    caplog.clear()
    started = time.monotonic()
    assert not obs.shutdown(timeout=1.0)
    assert time.monotonic() - started < 3.0
    # The drops of the last minute are reported at shutdown, with their count.
    (last,) = [r for r in caplog.records if r.name == "agents_sdk.tracing"]
    assert last.getMessage().startswith(f"dropped {obs.tracing.counts.dropped - 1} span(s)")


def test_a_forked_child_exports_its_own_spans(grpc_receiver):
    obs = Observability(
        "forking",
        tracing=TracingConfig(
            otlp_endpoint=grpc_receiver.endpoint, otlp_protocol="grpc", schedule_delay_millis=50
        ),
    )
    with obs.step("parent"):
        pass
    assert obs.tracing.force_flush(5)
    grpc_receiver.wait_for(1)

    pid = os.fork()
    if pid == 0:  # the child: a new processor and exporter were made for it at fork
        code = 1
        try:
            with obs.step("child"):
                pass
            code = 0 if obs.shutdown(timeout=10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    spans = grpc_receiver.wait_for(2)
    assert sorted(s.attributes["agent.step.name"] for s in spans) == ["child", "parent"]
    with obs.step("parent-again"):
        pass
    assert obs.shutdown(timeout=10)
    assert len(grpc_receiver.wait_for(3)) == 3


def test_the_global_tracer_provider_is_left_alone_unless_asked():
    from opentelemetry import trace

    before = trace.get_tracer_provider()
    obs = Observability(
        "a", tracing=TracingConfig(otlp_endpoint="http://127.0.0.1:9", otlp_protocol="grpc")
    )
    assert trace.get_tracer_provider() is before
    assert obs.tracing.provider is not before
    obs.shutdown(timeout=0.5)
