"""Hooks for an agent step, an LLM call and a tool call.

Each is a context manager (sync `with`, async `async with`) and a decorator
(sync and async functions). One use gives one span (GenAI semantic
conventions), its metrics, a DEBUG log line and exactly one audit event
carrying that span's trace_id and span_id. Parts that are off cost a no-op call.

    with obs.step("plan") as step:
        with obs.llm_call(provider="openai", model="gpt-4o") as call:
            reply = client.chat(...)
            call.report(input_tokens=812, output_tokens=95, cost_usd=0.0031)

    @obs.tool_call("search_tickets")
    async def search(query): ...
"""

from agents_sdk.hooks.call import NO_CALL, current_call
from agents_sdk.hooks.kinds import LlmCall, Step, ToolCall

__all__ = ["NO_CALL", "LlmCall", "Step", "ToolCall", "current_call"]
