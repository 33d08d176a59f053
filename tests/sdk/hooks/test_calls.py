import asyncio

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agents_sdk import (
    AuditConfig,
    InvalidEvent,
    Observability,
    TracingConfig,
    current_call,
    enable_observability,
)
from tests.independent_chain import read_journal, verify_chain


@pytest.fixture
def spans():
    return InMemorySpanExporter()


@pytest.fixture
def make_obs(tmp_path, spans):
    made = []

    def make(agent_id="agent-1", tracing=True, **parts):
        if tracing is True:
            tracing = TracingConfig(span_exporter=spans)
        audit = AuditConfig(tmp_path / f"{agent_id}.jsonl", ship=False)
        obs = Observability(agent_id, audit, tracing=tracing, **parts)
        made.append(obs)
        return obs

    yield make
    for obs in made:
        obs.shutdown(timeout=5)


def finished(obs, spans):
    obs.shutdown(timeout=5)
    return {s.name: s for s in spans.get_finished_spans()}


def journal(obs):
    assert obs.journal.flush(timeout=5)
    events = read_journal(obs.journal.path)
    assert verify_chain(events) == []
    return events


def exported(obs, spans):
    assert obs.tracing.force_flush(5)
    return spans.get_finished_spans()


def hex_ids(span):
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def test_one_audit_event_per_hook_carrying_its_own_span_ids(make_obs, spans, tmp_path):
    obs = make_obs()
    with obs.step("answer", user_id="alice", resource="crm://tickets/7"):
        with obs.llm_call("anthropic", "claude-sonnet") as call:
            call.report(input_tokens=1200, output_tokens=300, cost_usd=0.0081)
        with obs.tool_call("lookup_ticket", call_id="call-1"):
            pass
    by_name = finished(obs, spans)
    events = journal(obs)
    assert [e["action"] for e in events] == ["llm_call", "tool_execute", "agent_step"]
    step, llm, tool = (
        by_name["invoke_agent agent-1"],
        by_name["chat claude-sonnet"],
        by_name["execute_tool lookup_ticket"],
    )
    for event, span in zip(events, (llm, tool, step), strict=True):
        assert (event["trace_id"], event["span_id"]) == hex_ids(span)
        assert event["result"] == "success"
    assert llm.parent.span_id == step.context.span_id == tool.parent.span_id
    assert events[0]["details"] == {
        "provider": "anthropic",
        "model": "claude-sonnet",
        "operation": "chat",
        "duration_us": events[0]["details"]["duration_us"],
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": 0.0081,
    }
    assert events[1]["details"]["tool"] == "lookup_ticket"
    assert events[1]["details"]["call_id"] == "call-1"
    assert events[2]["details"]["step"] == "answer"
    assert (events[2]["user_id"], events[2]["resource"]) == ("alice", "crm://tickets/7")
    assert tool.attributes["gen_ai.tool.call.id"] == "call-1"


def test_decorated_sync_and_async_functions(make_obs, spans, tmp_path):
    obs = make_obs(metrics=True)

    @obs.tool_call("fetch")
    def fetch(url):
        return f"<{url}>"

    @obs.llm_call(
        "openai",
        "gpt-4o-mini",
        usage=lambda reply: {"input_tokens": reply["in"], "output_tokens": reply["out"]},
    )
    async def complete(prompt):
        current_call().report(cost_usd=0.002, response_model="gpt-4o-mini-2024-07-18")
        return {"in": len(prompt), "out": 7}

    @obs.step("loop")
    async def step():
        return fetch("a"), fetch("b"), await complete("hello")

    assert asyncio.run(step()) == ("<a>", "<b>", {"in": 5, "out": 7})
    assert fetch.__name__ == "fetch"
    by_name = finished(obs, spans)
    events = journal(obs)
    assert [e["action"] for e in events] == [
        "tool_execute",
        "tool_execute",
        "llm_call",
        "agent_step",
    ]
    llm = by_name["chat gpt-4o-mini"]
    assert llm.attributes["gen_ai.usage.input_tokens"] == 5
    assert llm.attributes["gen_ai.usage.output_tokens"] == 7
    assert llm.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert events[2]["details"]["cost_usd"] == 0.002
    assert len({e["trace_id"] for e in events}) == 1


def test_an_exception_is_recorded_once_everywhere_and_propagates(make_obs, spans, tmp_path):
    obs = make_obs(metrics=True)

    @obs.tool_call("charge_card")
    async def charge():
        raise PermissionError("card declined")

    with pytest.raises(PermissionError, match="card declined"):
        asyncio.run(charge())
    (span,) = exported(obs, spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].name == "exception"
    (event,) = journal(obs)
    assert event["result"] == "error"
    assert event["details"]["error_type"] == "PermissionError"
    assert (event["trace_id"], event["span_id"]) == hex_ids(span)
    registry = obs.metrics.registry
    labels = {"agent_id": "agent-1", "kind": "PermissionError"}
    assert registry.get_sample_value("agent_errors_total", labels) == 1
    labels = {"agent_id": "agent-1", "tool": "charge_card", "status": "error"}
    assert registry.get_sample_value("agent_tool_calls_total", labels) == 1


def test_caller_can_mark_failure_or_denial_and_bad_results_are_refused(make_obs, tmp_path):
    obs = make_obs(metrics=True)
    with obs.tool_call("send_email") as call:
        call.set_result("denied")
    with obs.step() as step:
        step.set_result("failure")
        with pytest.raises(ValueError, match="not one of"):
            step.set_result("maybe")
    assert [e["result"] for e in journal(obs)] == ["denied", "failure"]
    labels = {"agent_id": "agent-1", "status": "failure"}
    assert obs.metrics.registry.get_sample_value("agent_steps_total", labels) == 1


def test_bad_audit_details_raise_at_the_call_and_still_close_the_span(make_obs, spans, tmp_path):
    obs = make_obs()
    with pytest.raises(InvalidEvent), obs.tool_call("t") as call:
        call.add_details(score=float("nan"))
    (span,) = exported(obs, spans)
    assert span.end_time is not None
    assert current_call() is None
    with obs.tool_call("t"):
        pass
    assert [e["action"] for e in journal(obs)] == ["tool_execute"]


def test_concurrent_async_steps_keep_their_own_parentage(make_obs, spans):
    obs = make_obs()

    async def agent_step(n):
        async with obs.step(f"s{n}") as step:
            await asyncio.sleep(0.01 * (3 - n))
            async with obs.tool_call(f"tool{n}") as tool:
                await asyncio.sleep(0)
            return step, tool

    async def main():
        return await asyncio.gather(*(agent_step(n) for n in range(3)))

    pairs = asyncio.run(main())
    by_span_id = {format(s.context.span_id, "016x"): s for s in exported(obs, spans)}
    for step, tool in pairs:
        assert by_span_id[tool.span_id].parent.span_id == by_span_id[step.span_id].context.span_id
        assert tool.trace_id == step.trace_id
    assert len({step.trace_id for step, _ in pairs}) == 3


def test_permission_requests_record_the_decision_metric_and_event(make_obs, tmp_path):
    obs = make_obs(metrics=True)
    with obs.step("guarded") as step:
        obs.permission_request("read_customer", granted=True, user_id="bob", resource="crm://c/1")
        obs.permission_request("delete_customer", granted=False, details={"reason": "policy"})
    asyncio.run(obs.apermission_request("export", granted=False))
    events = journal(obs)
    granted, denied, step_event, async_denied = events
    assert (granted["action"], granted["result"]) == ("permission_request", "success")
    assert granted["details"] == {"permission": "read_customer"}
    assert (granted["user_id"], granted["resource"]) == ("bob", "crm://c/1")
    assert denied["result"] == "denied" and denied["details"]["reason"] == "policy"
    assert granted["span_id"] == denied["span_id"] == step.span_id == step_event["span_id"]
    assert async_denied["trace_id"] is None
    registry = obs.metrics.registry
    sample = "agent_permission_requests_total"
    assert registry.get_sample_value(sample, {"agent_id": "agent-1", "decision": "granted"}) == 1
    assert registry.get_sample_value(sample, {"agent_id": "agent-1", "decision": "denied"}) == 2


def test_without_tracing_events_link_to_whatever_span_is_active(make_obs, tmp_path, spans):
    from opentelemetry.sdk.trace import TracerProvider

    outer = TracerProvider().get_tracer("someone-else")
    obs = make_obs(tracing=False)
    with outer.start_as_current_span("request") as request, obs.tool_call("t"):
        pass
    with obs.tool_call("t"):
        pass
    linked, unlinked = journal(obs)
    assert (linked["trace_id"], linked["span_id"]) == hex_ids(request)
    assert unlinked["trace_id"] is None and unlinked["span_id"] is None


def test_every_part_off_leaves_decorated_functions_untouched():
    obs = Observability("agent-1")

    def work():
        return 42

    assert obs.tool_call("t")(work) is work
    assert obs.step()(work) is work
    with obs.llm_call("p", "m") as call:
        call.report(input_tokens=1)


def test_enable_observability_instruments_an_agent_class(tmp_path, spans):
    @enable_observability(
        step="run",
        llm={"think": {"provider": "openai", "model": "gpt-4o"}},
        tools=["search", "fetch"],
        audit=AuditConfig(tmp_path / "agent.jsonl", ship=False),
        metrics=True,
        tracing=TracingConfig(span_exporter=spans),
    )
    class SupportAgent:
        def __init__(self, agent_id):
            self.agent_id = agent_id

        def run(self, question):
            answer = self.think(question)
            return self.search(answer), asyncio.run(self.fetch("doc"))

        def think(self, question):
            current_call().report(input_tokens=len(question), output_tokens=2)
            return question.upper()

        def search(self, query):
            return [query]

        async def fetch(self, doc):
            return doc

    agent = SupportAgent("support-1")
    assert agent.run("why") == (["WHY"], "doc")
    obs = agent.observability
    assert obs.agent_id == "support-1" and agent.observability is obs
    obs.shutdown()
    events = read_journal(tmp_path / "agent.jsonl")
    assert verify_chain(events) == []
    assert [(e["action"], e["details"].get("tool")) for e in events] == [
        ("llm_call", None),
        ("tool_execute", "search"),
        ("tool_execute", "fetch"),
        ("agent_step", None),
    ]
    assert events[0]["details"]["input_tokens"] == 3
    names = sorted(s.name for s in spans.get_finished_spans())
    assert names == [
        "chat gpt-4o",
        "execute_tool fetch",
        "execute_tool search",
        "invoke_agent support-1",
    ]
    steps = obs.metrics.registry.get_sample_value(
        "agent_steps_total", {"agent_id": "support-1", "status": "success"}
    )
    assert steps == 1


def test_overhead_is_observed_once_per_step_including_nested_calls(make_obs):
    obs = make_obs(metrics=True)
    with obs.step():
        for _ in range(3):
            with obs.tool_call("t"):
                pass
    registry = obs.metrics.registry
    labels = {"agent_id": "agent-1"}
    assert registry.get_sample_value("agent_observability_overhead_seconds_count", labels) == 1
    overhead = registry.get_sample_value("agent_observability_overhead_seconds_sum", labels)
    step_time = registry.get_sample_value("agent_step_duration_seconds_sum", labels)
    assert overhead > 0
    assert step_time > 0


def test_enable_observability_refuses_a_method_the_class_does_not_have():
    class Agent:
        def run(self):
            pass

    with pytest.raises(AttributeError, match="Agent has no method think"):
        enable_observability(Agent, llm=["think"])


def test_enable_observability_defaults_to_a_step_method_and_accepts_an_assigned_instance(
    tmp_path,
):
    @enable_observability
    class Agent:
        def step(self, x):
            return x * 2

    agent = Agent()
    agent.observability = Observability(
        "assigned", audit=AuditConfig(tmp_path / "j.jsonl", ship=False)
    )
    assert agent.step(21) == 42
    agent.observability.shutdown()
    (event,) = read_journal(tmp_path / "j.jsonl")
    assert (event["agent_id"], event["action"], event["details"]["step"]) == (
        "assigned",
        "agent_step",
        "step",
    )
