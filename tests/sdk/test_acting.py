"""The acting user: set for a block (sync or async), recorded on hook events and record_audit."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents_sdk import AuditConfig, Observability, TracingConfig
from tests.independent_chain import read_journal


def make(tmp_path, **parts):
    return Observability("agent-7", AuditConfig(tmp_path / "audit.jsonl", ship=False), **parts)


def users(tmp_path):
    return [(e["action"], e["user_id"]) for e in read_journal(tmp_path / "audit.jsonl")]


def test_hook_events_and_record_audit_carry_the_acting_user(tmp_path):
    spans = InMemorySpanExporter()
    obs = make(tmp_path, tracing=TracingConfig(span_exporter=spans))
    with obs.acting_for(user_id="alice"):
        with obs.step("answer"), obs.tool_call("search_tickets"):
            pass
        obs.record_audit("data_access")
        obs.permission_request("send_email", granted=False)
        with obs.llm_call("openai", "gpt-4o", user_id="bob"):  # per call, it wins
            pass
    with obs.tool_call("after"):
        pass
    obs.shutdown()
    assert users(tmp_path) == [
        ("tool_execute", "alice"),
        ("agent_step", "alice"),
        ("data_access", "alice"),
        ("permission_request", "alice"),
        ("llm_call", "bob"),
        ("tool_execute", None),
    ]
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert by_name["execute_tool search_tickets"].attributes["enduser.id"] == "alice"
    assert "enduser.id" not in by_name["execute_tool after"].attributes


def test_each_asyncio_task_has_its_own_acting_user(tmp_path):
    obs = make(tmp_path)

    async def handle(user: str) -> None:
        async with obs.acting_for(user_id=user):
            await asyncio.sleep(0.01)  # the other task runs meanwhile
            async with obs.tool_call(f"for-{user}"):
                await asyncio.sleep(0.01)

    async def main() -> None:
        await asyncio.gather(handle("alice"), handle("carol"))

    asyncio.run(main())
    obs.shutdown()
    events = read_journal(tmp_path / "audit.jsonl")
    assert {(e["details"]["tool"], e["user_id"]) for e in events} == {
        ("for-alice", "alice"),
        ("for-carol", "carol"),
    }
