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

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from agents_sdk._otel import active_span_context, otel_context, trace
from agents_sdk.audit.chain import RESULTS

if TYPE_CHECKING:
    from agents_sdk.observability import Observability

_perf = time.perf_counter
_DEBUG = logging.DEBUG
_current: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "agents_sdk_current_call", default=None
)


def current_call() -> _Call | None:
    """The innermost step / LLM call / tool call running in this thread or task."""
    return _current.get()


def _hex_ids(span: Any) -> tuple[str | None, str | None]:
    ctx = span.get_span_context() if span is not None else active_span_context()
    if ctx is None or not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _error_status(description: str) -> Any:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.ERROR, description)


class _Call:
    """One instrumented unit of work; a fresh copy runs for every `with` or decorated call."""

    operation: ClassVar[str]
    action: ClassVar[str]
    log_message: ClassVar[str]

    def __init__(
        self,
        obs: Observability,
        *,
        user_id: str | None = None,
        resource: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        self._obs = obs
        self.user_id = user_id
        self.resource = resource
        self.details = dict(details) if details else None
        self.result = "success"
        self.span: Any = None
        self.trace_id: str | None = None
        self.span_id: str | None = None
        self.duration = 0.0
        self.event: dict[str, Any] | None = None

    # --- what the caller can say while the call runs ----------------------------------

    def set_result(self, result: str) -> None:
        """Mark the outcome when it is not an exception: failure or denied (default success)."""
        if result not in RESULTS:
            raise ValueError(f"result {result!r} is not one of {', '.join(sorted(RESULTS))}")
        self.result = result

    def add_details(self, **fields: Any) -> None:
        """Extra fields for this call's audit event (JSON values only)."""
        if self.details is None:
            self.details = {}
        self.details.update(fields)

    # --- lifecycle ------------------------------------------------------------------------

    def _span_name(self) -> str:
        raise NotImplementedError

    def _span_attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def _start(self) -> None:
        t0 = _perf()
        obs = self._obs
        self._parent = _current.get()
        tracer = obs._tracer
        self._context_token = None
        if tracer is not None:
            self.span = tracer.start_span(self._span_name(), attributes=self._span_attributes())
            self._context_token = otel_context.attach(trace.set_span_in_context(self.span))
        self._token = _current.set(self)
        self.result = "success"
        self._overhead = 0.0
        self._started = t1 = _perf()
        self._overhead += t1 - t0

    def _finish(self, exc: BaseException | None) -> None:
        t0 = _perf()
        self.duration = t0 - self._started
        obs = self._obs
        span = self.span
        try:
            if exc is not None:
                self.result = "error"
                kind = type(exc).__name__
                if not getattr(exc, "_agents_sdk_counted", False):
                    # One exception crossing a tool call and its step is one error, not two.
                    obs.metrics.error(kind)
                    with contextlib.suppress(AttributeError, TypeError):
                        exc._agents_sdk_counted = True  # type: ignore[union-attr]
                if span is not None:
                    span.record_exception(exc)
                    span.set_status(_error_status(f"{kind}: {exc}"))
                    span.set_attribute("error.type", kind)
            self._finish_span(span)
            self._record_metrics(obs.metrics)
            self.trace_id, self.span_id = _hex_ids(span)
            details = self._audit_details()
            if exc is not None:
                details["error_type"] = type(exc).__name__
            logger = obs.logger
            if logger.isEnabledFor(_DEBUG):
                # Nested under one key: a detail named like a LogRecord field ("name",
                # "args") would otherwise make logging refuse the record.
                logger.debug(
                    self.log_message,
                    extra={"action": self.action, "result": self.result, "details": details},
                )
            self.event = obs._audit(
                self.action,
                self.result,
                details,
                self.user_id,
                self.resource,
                self.trace_id,
                self.span_id,
            )
        finally:
            if span is not None:
                span.end()
                otel_context.detach(self._context_token)
            _current.reset(self._token)
            self._overhead += _perf() - t0
            self._account_overhead()

    def _finish_span(self, span: Any) -> None:
        pass

    def _record_metrics(self, metrics: Any) -> None:
        raise NotImplementedError

    def _audit_details(self) -> dict[str, Any]:
        raise NotImplementedError

    def _account_overhead(self) -> None:
        # Time inside the SDK is charged to the enclosing step (nested calls included).
        parent = self._parent
        while parent is not None and not isinstance(parent, Step):
            parent = parent._parent
        if parent is not None:
            parent._overhead += self._overhead

    # --- context manager and decorator protocol -------------------------------------------

    def __enter__(self) -> Any:
        self._start()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._finish(exc)

    async def __aenter__(self) -> Any:
        self._start()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._finish(exc)

    def _fresh(self) -> Any:
        call = object.__new__(type(self))
        call.__dict__.update(self.__dict__)
        if self.details is not None:
            call.details = dict(self.details)
        return call

    def _after_return(self, value: Any) -> None:
        pass

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                call = self._fresh()
                call._start()
                try:
                    value = await fn(*args, **kwargs)
                except BaseException as exc:
                    call._finish(exc)
                    raise
                call._after_return(value)
                call._finish(None)
                return value

            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            call = self._fresh()
            call._start()
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:
                call._finish(exc)
                raise
            call._after_return(value)
            call._finish(None)
            return value

        return run


class Step(_Call):
    """One agent step: an `invoke_agent` span that parents the LLM and tool calls inside it."""

    operation = "invoke_agent"
    action = "agent_step"
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
        if self.input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", self.input_tokens)
        if self.output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", self.output_tokens)
        if self.response_model is not None:
            span.set_attribute("gen_ai.response.model", self.response_model)
        if self.cost_usd is not None:
            span.set_attribute("gen_ai.usage.cost_usd", self.cost_usd)

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


class _NoCall:
    """Every part off: the hook is this shared object, and a decorator returns `fn` itself."""

    span = trace_id = span_id = event = None
    result = "success"
    duration = 0.0

    def set_result(self, result: str) -> None:
        pass

    def add_details(self, **fields: Any) -> None:
        pass

    def report(self, **usage: Any) -> None:
        pass

    def __enter__(self) -> _NoCall:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    async def __aenter__(self) -> _NoCall:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        pass

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn


NO_CALL = _NoCall()


# --- an agent class, instrumented -------------------------------------------------------


def _as_mapping(names: Iterable[str] | Mapping[str, Any] | str | None) -> dict[str, Any]:
    if names is None:
        return {}
    if isinstance(names, str):
        return {names: None}
    if isinstance(names, Mapping):
        return dict(names)
    return dict.fromkeys(names)


def _method_hook(
    method: Callable[..., Any], make_call: Callable[[Any], _Call]
) -> Callable[..., Any]:
    """Wrap `method` so each call runs inside a hook built from the instance."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            async with make_call(self) as call:
                value = await method(self, *args, **kwargs)
                call._after_return(value)
                return value

        return run_async

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        with make_call(self) as call:
            value = method(self, *args, **kwargs)
            call._after_return(value)
            return value

    return run


def enable_observability(
    cls: type | None = None,
    *,
    step: Iterable[str] | str | None = None,
    llm: Iterable[str] | Mapping[str, Mapping[str, Any]] | str | None = (),
    tools: Iterable[str] | Mapping[str, str] | str | None = (),
    agent_id_attribute: str = "agent_id",
    **observability_options: Any,
) -> Any:
    """Give an agent class `.observability` and instrument its step, LLM and tool methods.

    Use as `@enable_observability` or `@enable_observability(step="run", llm=["complete"],
    tools={"search": "web_search"}, metrics=True, tracing=True)`. Without `step=`, a method
    named `step` is instrumented if the class has one. Instances build their
    `Observability(agent_id=self.<agent_id_attribute> or the class name, **options)` on first
    use, or take one assigned to `agent.observability`. An LLM method's provider and model
    come from its mapping (`llm={"complete": {"provider": "openai", "model": "gpt-4o"}}`),
    else from the instance's `provider` / `model` attributes.
    """

    def decorate(agent_cls: type) -> type:
        from agents_sdk.observability import Observability

        def get(self: Any) -> Observability:
            obs = self.__dict__.get("_observability")
            if obs is None:
                agent_id = getattr(self, agent_id_attribute, None) or agent_cls.__name__
                obs = Observability(agent_id=agent_id, **observability_options)
                self.__dict__["_observability"] = obs
            return obs

        def set_(self: Any, obs: Observability) -> None:
            self.__dict__["_observability"] = obs

        agent_cls.observability = property(get, set_)  # type: ignore[attr-defined]

        step_names = _as_mapping(step)
        if step is None:
            step_names = {"step": None} if callable(getattr(agent_cls, "step", None)) else {}
        named = [*step_names, *_as_mapping(llm), *_as_mapping(tools)]
        missing = [n for n in named if not callable(getattr(agent_cls, n, None))]
        if missing:
            raise AttributeError(
                f"enable_observability: {agent_cls.__name__} has no method {', '.join(missing)}"
            )
        for name in step_names:
            setattr(
                agent_cls,
                name,
                _method_hook(
                    getattr(agent_cls, name), lambda self, n=name: Step(self.observability, n)
                ),
            )
        for name, spec in _as_mapping(llm).items():
            fixed = dict(spec or {})

            def make_llm(self: Any, fixed: dict[str, Any] = fixed) -> LlmCall:
                return LlmCall(
                    self.observability,
                    fixed.get("provider") or getattr(self, "provider", None) or "unknown",
                    fixed.get("model") or getattr(self, "model", None) or "unknown",
                    operation=fixed.get("operation", "chat"),
                    usage=fixed.get("usage"),
                )

            setattr(agent_cls, name, _method_hook(getattr(agent_cls, name), make_llm))
        for name, tool in _as_mapping(tools).items():
            setattr(
                agent_cls,
                name,
                _method_hook(
                    getattr(agent_cls, name),
                    lambda self, t=(tool or name): ToolCall(self.observability, t),
                ),
            )
        return agent_cls

    if cls is not None:
        return decorate(cls)
    return decorate
