"""The three hooks: an agent step, an LLM call and a tool call (GenAI semantic conventions)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from agents_sdk.hooks.call import _Call

if TYPE_CHECKING:
    from agents_sdk.observability import Observability


class Step(_Call):
    """One agent step: an `invoke_agent` span that parents the LLM and tool calls inside it."""

    operation = "invoke_agent"
    action = "agent_step"
    is_step = True
    log_message = "agent step finished"

    def __init__(self, obs: Observability, name: str | None = None, **audit: Any):
        super().__init__(obs, **audit)
        self.name = name

    def _span_name(self) -> str:
        return f"invoke_agent {self._obs.agent_name}"

    def _span_attributes(self) -> dict[str, Any]:
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": self._obs.agent_name,
            "gen_ai.agent.id": self._obs.agent_id,
        }
        if self.name:
            attributes["agent.step.name"] = self.name
        return attributes

    def _record_metrics(self, metrics: Any) -> None:
        metrics.step(self.result, self.duration)

    def _audit_details(self) -> dict[str, Any]:
        details = {"step": self.name, "duration_us": int(self.duration * 1_000_000)}
        if self.details:
            details.update(self.details)
        return details

    def _account_overhead(self) -> None:
        self._obs.metrics.step_overhead(self._overhead)
        super()._account_overhead()


class LlmCall(_Call):
    """One model call: a `chat {model}` span; the caller reports tokens and cost."""

    action = "llm_call"
    log_message = "llm call finished"

    def __init__(
        self,
        obs: Observability,
        provider: str,
        model: str,
        *,
        operation: str = "chat",
        usage: Callable[[Any], Mapping[str, Any]] | None = None,
        **audit: Any,
    ):
        super().__init__(obs, **audit)
        self.provider = provider
        self.model = model
        self.operation = operation
        self._usage = usage
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cost_usd: float | None = None
        self.response_model: str | None = None

    def report(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
        response_model: str | None = None,
    ) -> None:
        """What the provider answered: token counts, cost in USD, the model that served it."""
        if input_tokens is not None:
            self.input_tokens = int(input_tokens)
        if output_tokens is not None:
            self.output_tokens = int(output_tokens)
        if cost_usd is not None:
            self.cost_usd = float(cost_usd)
        if response_model is not None:
            self.response_model = response_model

    def _after_return(self, value: Any) -> None:
        if self._usage is not None:
            self.report(**self._usage(value))

    def _span_name(self) -> str:
        return f"{self.operation} {self.model}"

    def _span_attributes(self) -> dict[str, Any]:
        return {
            "gen_ai.operation.name": self.operation,
            "gen_ai.provider.name": self.provider,
            "gen_ai.system": self.provider,  # the pre-1.37 name, still read by many backends
            "gen_ai.request.model": self.model,
            "gen_ai.agent.id": self._obs.agent_id,
        }

    def _finish_span(self, span: Any) -> None:
        if span is None:
            return
        # An AgentSpan takes the hook's own plain values without re-validating them.
        set_own = getattr(span, "_set_own", None) or span.set_attribute
        if self.input_tokens is not None:
            set_own("gen_ai.usage.input_tokens", self.input_tokens)
        if self.output_tokens is not None:
            set_own("gen_ai.usage.output_tokens", self.output_tokens)
        if self.response_model is not None:
            span.set_attribute("gen_ai.response.model", self.response_model)
        if self.cost_usd is not None:
            set_own("gen_ai.usage.cost_usd", self.cost_usd)

    def _record_metrics(self, metrics: Any) -> None:
        metrics.llm_call(
            self.provider,
            self.model,
            self.result,
            self.duration,
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
        )

    def _audit_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "operation": self.operation,
            "duration_us": int(self.duration * 1_000_000),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }
        if self.response_model is not None:
            details["response_model"] = self.response_model
        if self.details:
            details.update(self.details)
        return details


class ToolCall(_Call):
    """One tool execution: an `execute_tool {tool}` span with its name, status and duration."""

    action = "tool_execute"
    log_message = "tool call finished"

    def __init__(self, obs: Observability, tool: str, *, call_id: str | None = None, **audit: Any):
        super().__init__(obs, **audit)
        self.tool = tool
        self.call_id = call_id

    def _span_name(self) -> str:
        return f"execute_tool {self.tool}"

    def _span_attributes(self) -> dict[str, Any]:
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": self.tool,
            "gen_ai.agent.id": self._obs.agent_id,
        }
        if self.call_id is not None:
            attributes["gen_ai.tool.call.id"] = self.call_id
        return attributes

    def _record_metrics(self, metrics: Any) -> None:
        metrics.tool_call(self.tool, self.result, self.duration)

    def _audit_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "tool": self.tool,
            "duration_us": int(self.duration * 1_000_000),
        }
        if self.call_id is not None:
            details["call_id"] = self.call_id
        if self.details:
            details.update(self.details)
        return details
