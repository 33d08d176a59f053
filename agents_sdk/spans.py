"""The hooks' spans: an OpenTelemetry `Span` that records into plain fields and hands one
`ReadableSpan` to the provider's processors when it ends.

The SDK's own span validates every attribute through `BoundedAttributes` under a lock,
asks the sampler, records tracer metrics and copies itself into a `ReadableSpan` at
the end: about 20 µs for a hook's span here. The hooks' attributes are the SDK's own
(strings and numbers it built), so this skips the validation for them; values set
from outside (`trace.get_current_span().set_attribute(...)`) are still cleaned.
Used only while the provider samples with the default (parent-based, always on);
any other sampler gets the SDK's spans.

An AgentSpan is also its own `ReadableSpan`: once ended it changes no more, so the
processors get the span itself rather than a copy.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import _clean_attribute_value
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.trace.span import DEFAULT_TRACE_STATE
from opentelemetry.util import types

from agents_sdk._otel import current_span

_SAMPLED = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_UNSET = Status(StatusCode.UNSET)
_NO_STATE = DEFAULT_TRACE_STATE
_tuple_new = tuple.__new__
_getrandbits = random.getrandbits


class AgentSpan(trace_api.Span, ReadableSpan):
    """One hook's span; the processors get it, as a ReadableSpan, at `end()`."""

    _context: SpanContext
    _attributes: dict[str, Any]
    # The fields ReadableSpan reads, as class defaults where they never vary.
    _kind = SpanKind.INTERNAL
    _instrumentation_info = None

    def __init__(
        self,
        recorder: SpanRecorder,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
    ):
        self._recorder = recorder
        self._resource = recorder._resource
        self._instrumentation_scope = recorder._scope
        self._name = name
        self._context = context
        self._parent = parent
        self._attributes = attributes
        self._events: list[Event] = []
        self._links: list[trace_api.Link] = []
        self._status = _UNSET
        self._end_time: int | None = None
        self._start_time = time_ns()

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        """Set one attribute (cleaned as the SDK cleans it; dropped if it is not valid)."""
        if self._end_time is None and key and isinstance(key, str):
            cleaned = _clean_attribute_value(value, None)
            if cleaned is not None:
                self._attributes[key] = cleaned

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def _set_own(self, key: str, value: str | int | float | bool) -> None:
        """The hooks' own attributes: plain values, no cleaning needed."""
        self._attributes[key] = value

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end_time is None:
            self._events.append(Event(name, attributes, timestamp or time_ns()))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end_time is None and context.is_valid:
            self._links.append(trace_api.Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return  # as the SDK: OK is final
        if isinstance(status, Status):
            self._status = status
        else:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        stacktrace = "".join(
            traceback.format_exception(type(exception), exception, exception.__traceback__)
        )
        fields: dict[str, Any] = {
            "exception.type": type(exception).__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": stacktrace,
            "exception.escaped": str(escaped),
        }
        if attributes:
            fields.update(attributes)
        self.add_event("exception", fields, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time or time_ns()
        self._recorder.finish(self)


class SpanRecorder:
    """Starts AgentSpans for one provider and hands them, ended, to its processors."""

    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource,
        scope: InstrumentationScope,
    ):
        self._processor = processor
        self._resource = resource
        self._scope = scope

    def start(self, name: str, attributes: dict[str, Any]) -> trace_api.Span:
        parent = current_span().get_span_context()
        if parent.is_valid:
            if not parent.trace_flags.sampled:  # parent-based: an unsampled parent decides
                return trace_api.NonRecordingSpan(
                    SpanContext(parent.trace_id, _span_id(), False, TraceFlags(0))
                )
            context = _new_context(parent.trace_id, _span_id(), _SAMPLED, parent.trace_state)
            return AgentSpan(self, name, context, parent, attributes)
        trace_id = _getrandbits(128) or 1
        context = _new_context(trace_id, _span_id(), _SAMPLED, _NO_STATE)
        return AgentSpan(self, name, context, None, attributes)

    def finish(self, span: AgentSpan) -> None:
        self._processor.on_end(span)


def _new_context(trace_id: int, span_id: int, flags: TraceFlags, state: TraceState) -> Any:
    # SpanContext(...) checks that the ids are in range; these are by construction.
    return _tuple_new(SpanContext, (trace_id, span_id, False, flags, state, True))


def _span_id() -> int:
    return _getrandbits(64) or 1
