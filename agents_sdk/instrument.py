"""`enable_observability`: give an agent class an Observability and hook its methods.

It lives apart from the hooks because it builds an Observability, which itself hands
out hooks: keeping it here leaves `hooks` and `observability` free of each other.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agents_sdk.hooks import LlmCall, Step, ToolCall
from agents_sdk.hooks.call import _Call
from agents_sdk.observability import Observability


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


def _step_maker(name: str) -> Callable[[Any], _Call]:
    return lambda agent: Step(agent.observability, name)


def _tool_maker(tool: str) -> Callable[[Any], _Call]:
    return lambda agent: ToolCall(agent.observability, tool)


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
        def get(self: Any) -> Observability:
            obs: Observability | None = self.__dict__.get("_observability")
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
                _method_hook(getattr(agent_cls, name), _step_maker(name)),
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
                _method_hook(getattr(agent_cls, name), _tool_maker(tool or name)),
            )
        return agent_cls

    if cls is not None:
        return decorate(cls)
    return decorate
