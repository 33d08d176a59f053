"""OTLP trace export requests written straight to protobuf wire bytes.

The OpenTelemetry exporter builds a protobuf object for every span, attribute
and value, about 25 µs a span here; in an agent that is GIL time its exporter
thread takes from the agent. This writes the same bytes directly (tested byte
for byte against the upstream encoder) and reuses the encoding of the resource,
the scope and every attribute seen before, which in an agent repeat from span to
span. About 7 µs a span (benchmarks/README.md).

Field numbers are those of opentelemetry/proto/trace/v1/trace.proto and
common/v1/common.proto.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from agents_sdk.spans import AgentSpan

_logger = logging.getLogger(__name__)

_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
_pack_double = struct.Struct("<d").pack
_SMALL = [bytes((n,)) for n in range(128)]
_UINT64 = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

# OTLP's SpanKind numbers: unspecified is 0, so the SDK's INTERNAL (0) is OTLP's 1.
_KIND = {kind: b"\x30" + _SMALL[kind.value + 1] for kind in SpanKind}
_INTERNAL = _KIND[SpanKind.INTERNAL]
_HAS_IS_REMOTE = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_FLAGS = {False: b"\x85\x01" + _pack_fixed32(_HAS_IS_REMOTE)}
_FLAGS[True] = b"\x85\x01" + _pack_fixed32(_HAS_IS_REMOTE | _IS_REMOTE)
_LINK_FLAGS = {False: b"\x35" + _pack_fixed32(_HAS_IS_REMOTE)}
_LINK_FLAGS[True] = b"\x35" + _pack_fixed32(_HAS_IS_REMOTE | _IS_REMOTE)

# A span encoded as it ended: (its resource, its scope or None, its Span message bytes
# framed as a ScopeSpans `spans` field): a batch is then joined in C, not framed span by
# span while the export thread holds the GIL (~1 µs a span, 0.5 ms for a batch of 512).
EncodedSpan = tuple[Any, Any, bytes]

_CACHE_LIMIT = 4096  # encoded attributes remembered; past it the cache starts over


def _varint(n: int) -> bytes:
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n > 127:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length, the payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else _varint(n)) + payload


def _any_value(value: Any) -> bytes:
    """An AnyValue message, checking types in the upstream encoder's order."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"Value out of range: {value}")
        return b"\x18" + _varint(value & _UINT64)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        pairs = b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items())
        return _field(b"\x32", pairs)
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _any_value(value))


class _Attributes:
    """Encodes attribute maps as repeated KeyValue fields, remembering scalar pairs."""

    def __init__(self) -> None:
        self._known: dict[tuple[bytes, str, type, Any], bytes] = {}

    def encode(self, tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
        if not attributes:
            return b""
        known = self._known
        out = []
        for key, value in attributes.items():
            kind = type(value)
            if kind is str or kind is int or kind is bool or kind is float:
                # The type is in the key: True == 1 == 1.0 would otherwise share an entry.
                cache_key = (tag, key, kind, value)
                encoded = known.get(cache_key)
                if encoded is None:
                    encoded = self._encode_pair(tag, key, value)
                    if encoded is None:
                        continue
                    if len(known) >= _CACHE_LIMIT:
                        known.clear()
                    known[cache_key] = encoded
            else:
                encoded = self._encode_pair(tag, key, value)
                if encoded is None:
                    continue
            out.append(encoded)
        return b"".join(out)

    @staticmethod
    def _encode_pair(tag: bytes, key: str, value: Any) -> bytes | None:
        try:
            return _field(tag, _key_value(key, value))
        except Exception as error:  # as upstream: a value that cannot be encoded is left out
            _logger.exception("Failed to encode key %s: %s", key, error)
            return None


class SpanEncoder:
    """Turns finished spans into a serialized ExportTraceServiceRequest.

    One instance per exporter: its caches are not shared across threads.
    """

    def __init__(self) -> None:
        self._attributes = _Attributes()
        self._groups: dict[int, Any] = {}  # id(resource or scope) -> an equal one seen first
        self._resource_bytes: dict[int, bytes] = {}
        self._scope_bytes: dict[int, bytes] = {}
        self._names: dict[str, bytes] = {}  # span name -> its encoded field

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The request carrying `spans`."""
        return self.encode_encoded([self.encode_span(span) for span in spans])

    def encode_span(self, span: ReadableSpan) -> EncodedSpan:
        """One span's own bytes, with what groups it (its resource and scope).

        Safe from several threads at once: the caches it shares are plain dicts whose
        worst race is an entry computed twice.
        """
        if type(span) is AgentSpan:
            framed = _field(b"\x12", self._agent_span(span))
            return (span._resource, span._instrumentation_scope, framed)
        return (
            span.resource,
            span.instrumentation_scope or None,
            _field(b"\x12", self._span(span)),
        )

    def encode_encoded(self, spans: Sequence[EncodedSpan]) -> bytes:
        """The request carrying spans encoded by `encode_span` (one thread at a time)."""
        # Grouped as the upstream encoder does: resource, then scope, in order of first
        # appearance; equal resources (or scopes) are one group.
        # Keyed by id: hashing a Resource serializes its attributes every time.
        grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
        last: tuple[Any, Any, list[bytes]] | None = None
        for span_resource, span_scope, encoded in spans:
            if last is not None and span_resource is last[0] and span_scope is last[1]:
                last[2].append(encoded)  # the usual case: the same group as the span before
                continue
            resource = self._canonical(span_resource)
            scope = span_scope
            if scope is not None:
                scope = self._canonical(scope)
            scopes = grouped.setdefault(id(resource), (resource, {}))[1]
            group = scopes.setdefault(id(scope), (scope, []))[1]
            group.append(encoded)
            last = (span_resource, span_scope, group)
        request = []
        for resource, scopes in grouped.values():
            body = [_field(b"\x0a", self._resource(resource))]
            for scope, encoded_spans in scopes.values():
                # A span without a scope still gets an (empty) scope message, as upstream.
                scope_spans = [_field(b"\x0a", b"" if scope is None else self._scope(scope))]
                scope_spans.extend(encoded_spans)  # framed by encode_span
                if scope is not None and scope.schema_url:
                    scope_spans.append(_field(b"\x1a", scope.schema_url.encode()))
                body.append(_field(b"\x12", b"".join(scope_spans)))
            if resource.schema_url:
                body.append(_field(b"\x1a", resource.schema_url.encode()))
            request.append(_field(b"\x0a", b"".join(body)))
        if len(self._groups) > 64:  # resources and scopes are few; this bounds the odd case
            self._groups.clear()
            self._resource_bytes.clear()
            self._scope_bytes.clear()
        return b"".join(request)

    def _canonical(self, item: Any) -> Any:
        groups = self._groups
        found = groups.get(id(item))
        if found is None or (found is not item and found != item):
            found = next((g for g in groups.values() if g == item), item)
            groups[id(item)] = found
        return found

    def _resource(self, resource: Any) -> bytes:
        encoded = self._resource_bytes.get(id(resource))
        if encoded is None:
            encoded = self._resource_bytes[id(resource)] = self._attributes.encode(
                b"\x0a", resource.attributes
            )
        return encoded

    def _scope(self, scope: Any) -> bytes:
        encoded = self._scope_bytes.get(id(scope))
        if encoded is None:
            parts = []
            if scope.name:
                parts.append(_field(b"\x0a", scope.name.encode()))
            if scope.version:
                parts.append(_field(b"\x12", scope.version.encode()))
            parts.append(self._attributes.encode(b"\x1a", scope.attributes))
            encoded = self._scope_bytes[id(scope)] = b"".join(parts)
        return encoded

    def _span(self, span: ReadableSpan) -> bytes:
        context = span.get_span_context()
        assert context is not None  # a finished SDK span always has one
        parent = span.parent
        attributes = self._attributes
        parts = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        ]
        trace_state = context.trace_state
        if trace_state:
            state = ",".join(f"{key}={value}" for key, value in trace_state.items())
            parts.append(_field(b"\x1a", state.encode()))
        if parent:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        if span.name:
            parts.append(_field(b"\x2a", span.name.encode()))
        parts.append(_KIND[span.kind])
        if span.start_time:
            parts.append(b"\x39" + _pack_fixed64(span.start_time))
        if span.end_time:
            parts.append(b"\x41" + _pack_fixed64(span.end_time))
        parts.append(attributes.encode(b"\x4a", span.attributes))
        if span.dropped_attributes:
            parts.append(b"\x50" + _varint(span.dropped_attributes))
        for event in span.events:
            parts.append(_field(b"\x5a", self._event(event)))
        if span.dropped_events:
            parts.append(b"\x60" + _varint(span.dropped_events))
        for link in span.links:
            parts.append(_field(b"\x6a", self._link(link)))
        if span.dropped_links:
            parts.append(b"\x70" + _varint(span.dropped_links))
        status = span.status
        if status is not None:
            body = b""
            if status.description:
                body = _field(b"\x12", status.description.encode())
            if status.status_code.value:
                body += b"\x18" + _SMALL[status.status_code.value]
            parts.append(_field(b"\x7a", body))
        parts.append(_FLAGS[bool(parent and parent.is_remote)])
        return b"".join(parts)

    def _agent_span(self, span: AgentSpan) -> bytes:
        """`_span` for a hook's span, read from its fields: the same bytes, in a third of the
        time (its attributes are a plain dict, its kind INTERNAL, it drops nothing)."""
        context = span._context
        parent = span._parent
        parts = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big")
            + b"\x12\x08" + context.span_id.to_bytes(8, "big")
        ]  # fmt: skip
        trace_state = context.trace_state
        if trace_state:
            state = ",".join(f"{key}={value}" for key, value in trace_state.items())
            parts.append(_field(b"\x1a", state.encode()))
        if parent is not None:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        name = span._name
        if name:
            encoded_name = self._names.get(name)
            if encoded_name is None:
                if len(self._names) >= _CACHE_LIMIT:
                    self._names.clear()
                encoded_name = self._names[name] = _field(b"\x2a", name.encode())
            parts.append(encoded_name)
        parts.append(_INTERNAL)
        if span._start_time:
            parts.append(b"\x39" + _pack_fixed64(span._start_time))
        if span._end_time:
            parts.append(b"\x41" + _pack_fixed64(span._end_time))
        parts.append(self._attributes.encode(b"\x4a", span._attributes))
        for event in span._events:
            parts.append(_field(b"\x5a", self._event(event)))
        for link in span._links:
            parts.append(_field(b"\x6a", self._link(link)))
        status = span._status
        if status.description or status.status_code.value:
            body = b""
            if status.description:
                body = _field(b"\x12", status.description.encode())
            if status.status_code.value:
                body += b"\x18" + _SMALL[status.status_code.value]
            parts.append(_field(b"\x7a", body))
        else:
            parts.append(b"\x7a\x00")
        parts.append(_FLAGS[parent is not None and parent.is_remote])
        return b"".join(parts)

    def _event(self, event: Any) -> bytes:
        parts = []
        if event.timestamp:
            parts.append(b"\x09" + _pack_fixed64(event.timestamp))
        if event.name:
            parts.append(_field(b"\x12", event.name.encode()))
        parts.append(self._attributes.encode(b"\x1a", event.attributes))
        if event.dropped_attributes:
            parts.append(b"\x20" + _varint(event.dropped_attributes))
        return b"".join(parts)

    def _link(self, link: Any) -> bytes:
        context = link.context
        parts = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
            self._attributes.encode(b"\x22", link.attributes),
        ]
        if link.dropped_attributes:
            parts.append(b"\x28" + _varint(link.dropped_attributes))
        parts.append(_LINK_FLAGS[bool(context.is_remote)])
        return b"".join(parts)
