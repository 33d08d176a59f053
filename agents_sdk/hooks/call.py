"""The shared life of a hook: start a span, time the work, finish with metrics, a log line
and one audit event; and the no-op object that stands in when every part is off."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from agents_sdk._otel import attach_span, current_span, detach_span, span_hex_ids
from agents_sdk.acting import current_user
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
    return span_hex_ids(span if span is not None else current_span())


def _error_status(description: str) -> Any:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.ERROR, description)


class _Call:
    """One instrumented unit of work; a fresh copy runs for every `with` or decorated call."""

    operation: str  # the GenAI operation name (an LLM call sets its own)
    action: ClassVar[str]
    log_message: ClassVar[str]
    is_step: ClassVar[bool] = False  # a step is where nested calls charge their overhead

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
        start_span = obs._start_span
        self._context_token = None
        self._acting = self.user_id if self.user_id is not None else current_user()
        if start_span is not None:
            attributes = self._span_attributes()
            if self._acting is not None:
                attributes["enduser.id"] = self._acting
            self.span = start_span(self._span_name(), attributes)
            self._context_token = attach_span(self.span)
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
                        exc._agents_sdk_counted = True  # type: ignore[attr-defined]
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
                self._acting,
                self.resource,
                self.trace_id,
                self.span_id,
            )
        finally:
            if span is not None:
                span.end()
                detach_span(self._context_token)
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
        while parent is not None and not parent.is_step:
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
