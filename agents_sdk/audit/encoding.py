"""An event's fields as the canonical JSON bytes of its journal line.

Everything that can refuse an event is checked here, before the writer touches
its chain: a refused event writes nothing and leaves no gap.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from agents_sdk.audit.canonical import NotCanonicalizable, canonicalize
from agents_sdk.audit.chain import (
    MAX_LENGTHS,
    RESULTS,
    InvalidEvent,
    commit_personal_value,
    text_field_problem,
)

RESULT_BYTES = {result: result.encode() for result in RESULTS}
# The canonical (RFC 8785) body of every event: keys in UTF-16 code-unit order,
# which for these ASCII names is plain byte order. Building it from a template
# saves a second serialization of the whole body per event; property tests and
# the independent verifier hold it to the canonicalizer's bytes.
BODY = (
    b'{"action":%b,"agent_id":%b,"details":%b,"event_id":"%b","pii_commitments":%b,'
    b'"prev_hash":"%b","resource":%b,"result":"%b","seq":%d,"span_id":%b,"stream":%b,'
    b'"trace_id":%b,"ts":"%b","user_id":%b,"v":1}'
)


def hex_id_json(name: str, value: str | None, pattern: re.Pattern[str], digits: int) -> bytes:
    """A trace or span id as JSON: null, or its lowercase hex digits (no escaping needed)."""
    if value is None:
        return b"null"
    if type(value) is str and pattern.match(value):
        return b'"' + value.encode() + b'"'
    raise InvalidEvent(f"{name} must be {digits} lowercase hex digits, got {value!r}")


# Text fields already checked, with their JSON: an agent records the same few actions
# (and users, resources) over and over. Bounded; a race only checks a value twice.
_checked_text: dict[tuple[str, str], bytes] = {}
_CHECKED_TEXT_LIMIT = 1024


def json_text(name: str, value: str | None) -> bytes:
    """A top-level text field as canonical JSON (orjson's string escaping is RFC 8785's)."""
    if value is None:
        return b"null"
    if type(value) is str:
        known = _checked_text.get((name, value))
        if known is not None:
            return known
    encoded = _checked_json_text(name, value)
    if len(_checked_text) >= _CHECKED_TEXT_LIMIT:
        _checked_text.clear()
    _checked_text[(name, value)] = encoded
    return encoded


def _checked_json_text(name: str, value: Any) -> bytes:
    if type(value) is not str:
        raise InvalidEvent(f"{name} must be a string or None, got {type(value).__name__}")
    if len(value) > MAX_LENGTHS[name]:
        raise InvalidEvent(f"{name} is {len(value)} characters; the limit is {MAX_LENGTHS[name]}")
    if "\x00" in value:
        raise InvalidEvent(f"{name} may not contain NUL (U+0000)")
    problem = text_field_problem(name, value)
    if problem is not None:
        raise InvalidEvent(problem)
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise InvalidEvent(f"{name} is not valid text: {exc}") from None


def details_json(details: dict[str, Any] | None) -> tuple[dict[str, Any], bytes]:
    """The details (an empty dict for None) and their canonical JSON."""
    if details is None:
        return {}, b"{}"
    if type(details) is not dict:
        raise InvalidEvent(f"details must be a dict, got {type(details).__name__}")
    try:
        return details, canonicalize(details, round_trip=True)
    except NotCanonicalizable as exc:
        raise InvalidEvent(f"details are not plain JSON: {exc}") from exc


def personal_data_json(
    personal_data: dict[str, Any] | None,
) -> tuple[dict[str, str], dict[str, dict[str, Any]], bytes, bytes]:
    """(commitments, sidecar, the commitments' canonical JSON, the line's `,"pii":...` part)."""
    if not personal_data:
        return {}, {}, b"{}", b""
    if type(personal_data) is not dict:
        raise InvalidEvent("personal_data must be a dict of field name -> value")
    commitments: dict[str, str] = {}
    sidecar: dict[str, dict[str, Any]] = {}
    for name, value in personal_data.items():
        if type(name) is not str or not name:
            raise InvalidEvent(f"personal_data keys must be non-empty strings: {name!r}")
        try:
            committed = commit_personal_value(value)
        except NotCanonicalizable as exc:
            raise InvalidEvent(f"personal_data[{name!r}]: {exc}") from exc
        commitments[name] = committed.commitment
        sidecar[name] = {"value": committed.value, "salt": committed.salt}
    return commitments, sidecar, canonicalize(commitments), b',"pii":' + orjson.dumps(sidecar)
