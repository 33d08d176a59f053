"""Envelope v1 and its SHA-256 hash chain: the one implementation of DESIGN.md's rules.

hash = sha256(bytes.fromhex(prev_hash) + RFC8785(body)), where body is the
event without `hash` and without the erasable `pii` sidecar. Personal data is
hashed only as a salted commitment, so erasing the sidecar keeps the chain whole.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from agents_sdk.audit.canonical import (
    MAX_SAFE_INTEGER,
    NotCanonicalizable,
    _is_plain,
    canonicalize,
)

ENVELOPE_VERSION = 1
GENESIS_HASH = "0" * 64
RESULTS = frozenset({"success", "failure", "denied", "error"})
# The largest canonical body an event may have. Audit events are records, not
# payload stores; 64 KiB leaves room for rich tool arguments while keeping a
# batch of 1,000 events within a broker message of comfortable size.
MAX_EVENT_BYTES = 64 * 1024

# \Z, not $: `$` also matches before a trailing newline; [0-9], not \d: \d takes any
# Unicode digit, which no RFC 3339 parser reads.
TS_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
# No event is older than this year (a clock at 0 or a parsing accident, kept forever else).
MIN_TS_YEAR = 2000
# stream, agent_id and action: 1-200 of ASCII letters, digits and . _ : @ + -, so that
# they stand in URLs, file names, metric labels and logs as they are (no '/', no space).
IDENTIFIER = re.compile(r"[A-Za-z0-9._:@+-]{1,200}\Z")
IDENTIFIER_FIELDS = ("stream", "agent_id", "action")
# user_id and resource are free text, without control characters (C0, DEL, C1).
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TRACE_ID = re.compile(r"^[0-9a-f]{32}\Z")
SPAN_ID = re.compile(r"^[0-9a-f]{16}\Z")

# field -> (accepted types, nullable)
_ENVELOPE_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "v": ((int,), False),
    "event_id": ((str,), False),
    "stream": ((str,), False),
    "seq": ((int,), False),
    "ts": ((str,), False),
    "agent_id": ((str,), False),
    "action": ((str,), False),
    "result": ((str,), False),
    "user_id": ((str,), True),
    "resource": ((str,), True),
    "details": ((dict,), False),
    "trace_id": ((str,), True),
    "span_id": ((str,), True),
    "pii_commitments": ((dict,), False),
    "prev_hash": ((str,), False),
    "hash": ((str,), False),
}
HASHED_FIELDS = tuple(name for name in _ENVELOPE_FIELDS if name != "hash")
# Longest accepted text of the indexed string fields (the portal's column sizes).
MAX_LENGTHS = {
    "event_id": 36,
    "stream": 200,
    "agent_id": 200,
    "action": 200,
    "user_id": 200,
    "resource": 1000,
}


# The fast path of `validate_envelope`: every field's type checked in one tuple lookup.
_FIELD_NAMES = tuple(_ENVELOPE_FIELDS)
_field_values = operator.itemgetter(*_FIELD_NAMES)
_TYPE_ROWS = frozenset(
    itertools.product(
        *(
            types + ((type(None),) if nullable else ())
            for types, nullable in _ENVELOPE_FIELDS.values()
        )
    )
)
_SIDECAR_KEYS = frozenset({"value", "salt"})
_MAX_STREAM, _MAX_AGENT, _MAX_ACTION, _MAX_USER, _MAX_RESOURCE = (
    MAX_LENGTHS[name] for name in ("stream", "agent_id", "action", "user_id", "resource")
)
# The form the SDK writes (uuid4/uuid7 str()); anything else is left to uuid.UUID to judge.
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


_IDENTIFIER_MATCH = IDENTIFIER.match
_KEY_COUNT = len(_FIELD_NAMES)
# event_id (the SDK's UUID text), ts, prev_hash, hash, stream, agent_id, action: one a line.
_FIXED_FORM_MATCH = re.compile(
    "\n".join(
        pattern.pattern.removeprefix("^").removesuffix("\\Z")
        for pattern in (_UUID_TEXT, TS_PATTERN, HEX64, HEX64, IDENTIFIER, IDENTIFIER, IDENTIFIER)
    )
    + "\\Z"
).match
_CONTROL_SEARCH = CONTROL_CHARACTER.search


class InvalidEvent(ValueError):
    """An event that does not follow envelope v1; the message says which field and why."""


def text_field_problem(name: str, value: str) -> str | None:
    """Why a string is no valid `name` field: the identifier charset, or a control character."""
    if name in IDENTIFIER_FIELDS:
        if not IDENTIFIER.match(value):
            return f"field '{name}' ({value[:40]!r}) must be 1-200 of A-Z a-z 0-9 . _ : @ + -"
    elif CONTROL_CHARACTER.search(value):
        return f"field '{name}' may not hold a control character"
    return None


class InvalidTimestamp(InvalidEvent):
    """A `ts` that names no real moment, or one outside the accepted window."""


def ts_problem(ts: str) -> str | None:
    """Why a `ts` of the RFC 3339 pattern is no real moment (month 13, Feb 30, year 0)."""
    try:
        moment = datetime.fromisoformat(ts[:-1])
    except ValueError:
        return f"ts '{ts}' is not a valid date and time"
    if moment.year < MIN_TS_YEAR:
        return f"ts '{ts}' is before {MIN_TS_YEAR}"
    return None


@dataclass(frozen=True, slots=True)
class PersonalValue:
    """One personal-data field: the commitment goes into the hashed body, the rest is erasable."""

    commitment: str
    value: Any
    salt: str


def commit_personal_value(value: Any, salt: bytes | None = None) -> PersonalValue:
    """Commit to `value` with a fresh 16-byte salt: sha256(salt + RFC8785(value))."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.sha256(salt + canonicalize(value, round_trip=True)).hexdigest()
    return PersonalValue(commitment=digest, value=value, salt=salt.hex())


def personal_value_matches(commitment: str, value: Any, salt_hex: str) -> bool:
    """True when a sidecar entry still opens its commitment."""
    return hashlib.sha256(bytes.fromhex(salt_hex) + canonicalize(value)).hexdigest() == commitment


def hashed_body(event: dict[str, Any]) -> dict[str, Any]:
    """The part of an event the hash covers."""
    return {name: event[name] for name in HASHED_FIELDS}


def compute_hash(body: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonicalize(body)).hexdigest()


def seal(body: dict[str, Any]) -> tuple[str, bytes]:
    """Hash a complete body; return the hash and the canonical bytes (for size checks)."""
    canonical = canonicalize(body)
    if len(canonical) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event is {len(canonical)} bytes once canonicalized; the limit is {MAX_EVENT_BYTES}"
        )
    digest = hashlib.sha256(bytes.fromhex(body["prev_hash"]) + canonical).hexdigest()
    return digest, canonical


def validate_envelope(event: Any) -> None:
    """Check shape and types of an event as received; raise InvalidEvent with the first problem."""
    # The common case, a well-formed event, answers in a few operations; anything the
    # fast check does not accept goes through the full check, which names the problem.
    if not _well_formed(event):
        _validate_envelope_fully(event)


def _well_formed(event: Any) -> bool:
    """True only for an event that `_validate_envelope_fully` accepts (held so by tests)."""
    if type(event) is not dict:
        return False
    # Exactly the envelope's keys (plus `pii`): as many keys as that, all of them present.
    size = len(event)
    if size != _KEY_COUNT and not (size == _KEY_COUNT + 1 and "pii" in event):
        return False
    try:
        values = _field_values(event)
    except KeyError:
        return False
    if tuple(map(type, values)) not in _TYPE_ROWS:
        return False
    (v, event_id, stream, seq, ts, agent_id, action, result, user_id, resource, _details,
     trace_id, span_id, commitments, prev_hash, digest) = values  # fmt: skip
    if not (
        v == ENVELOPE_VERSION
        and len(stream) <= _MAX_STREAM
        and len(agent_id) <= _MAX_AGENT
        and len(action) <= _MAX_ACTION
        and (user_id is None or len(user_id) <= _MAX_USER)
        and (resource is None or len(resource) <= _MAX_RESOURCE)
        and seq >= 0
        and result in RESULTS
        # The fixed-form fields in one regex call (a newline is in none of their alphabets,
        # so each line is exactly one field): ~1 µs less than a call each.
        and _FIXED_FORM_MATCH(
            f"{event_id}\n{ts}\n{prev_hash}\n{digest}\n{stream}\n{agent_id}\n{action}"
        )
        and (user_id is None or not _CONTROL_SEARCH(user_id))
        and (resource is None or not _CONTROL_SEARCH(resource))
        and ts_problem(ts) is None
        and (seq != 0 or prev_hash == GENESIS_HASH)
        and (trace_id is None or TRACE_ID.match(trace_id))
        and (span_id is None or SPAN_ID.match(span_id))
    ):
        return False
    for commitment in commitments.values():
        if type(commitment) is not str or not HEX64.match(commitment):
            return False
    if "pii" in event:
        pii = event["pii"]
        if type(pii) is not dict:
            return False
        for name, entry in pii.items():
            if name not in commitments or type(entry) is not dict or entry.keys() != _SIDECAR_KEYS:
                return False
    return True


def canonical_body(event: dict[str, Any]) -> bytes:
    """RFC 8785 of the hashed body of an event that passed `validate_envelope`.

    Byte-identical to `canonicalize(hashed_body(event))` (held so by property tests)
    but walks only what the envelope check has not already proved plain: the free
    strings (for NUL), `seq` (for ±2^53), `details` and the commitments' keys.
    """
    user_id, resource = event["user_id"], event["resource"]
    if (
        event["seq"] <= MAX_SAFE_INTEGER
        and "\x00" not in event["event_id"]
        and "\x00" not in event["stream"]
        and "\x00" not in event["agent_id"]
        and "\x00" not in event["action"]
        and (user_id is None or "\x00" not in user_id)
        and (resource is None or "\x00" not in resource)
        and _is_plain(event["details"])
        and _is_plain(event["pii_commitments"])
    ):
        body = dict(event)
        del body["hash"]
        body.pop("pii", None)
        try:
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # lone surrogates: the reference path names them
            pass
    return canonicalize(hashed_body(event))


def _validate_envelope_fully(event: Any) -> None:
    if not isinstance(event, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {type(event).__name__}")
    for name, (types, nullable) in _ENVELOPE_FIELDS.items():
        if name not in event:
            raise InvalidEvent(f"field '{name}' is missing")
        value = event[name]
        if value is None and nullable:
            continue
        if type(value) not in types:
            expected = " or ".join(t.__name__ for t in types) + (" or null" if nullable else "")
            raise InvalidEvent(f"field '{name}' must be {expected}, got {type(value).__name__}")
    for name, limit in MAX_LENGTHS.items():
        value = event[name]
        if value is not None and len(value) > limit:
            raise InvalidEvent(f"field '{name}' is {len(value)} characters; the limit is {limit}")
    extra = set(event) - set(_ENVELOPE_FIELDS) - {"pii"}
    if extra:
        raise InvalidEvent(f"unknown field(s): {', '.join(sorted(extra))}")
    if event["v"] != ENVELOPE_VERSION:
        raise InvalidEvent(f"envelope version {event['v']} is not supported (expected 1)")
    try:
        uuid.UUID(event["event_id"])
    except ValueError:
        raise InvalidEvent(f"event_id '{event['event_id'][:40]}' is not a UUID") from None
    if event["seq"] < 0:
        raise InvalidEvent(f"seq must be >= 0, got {event['seq']}")
    if event["result"] not in RESULTS:
        raise InvalidEvent(f"result '{event['result']}' is not one of {', '.join(sorted(RESULTS))}")
    if not TS_PATTERN.match(event["ts"]):
        raise InvalidEvent(f"ts '{event['ts'][:40]}' is not RFC 3339 UTC with microseconds and Z")
    problem = ts_problem(event["ts"])
    if problem is not None:
        raise InvalidTimestamp(problem)
    for name in (*IDENTIFIER_FIELDS, "user_id", "resource"):
        problem = None if event[name] is None else text_field_problem(name, event[name])
        if problem is not None:
            raise InvalidEvent(problem)
    for name in ("prev_hash", "hash"):
        if not HEX64.match(event[name]):
            raise InvalidEvent(f"{name} must be 64 lowercase hex digits")
    if event["seq"] == 0 and event["prev_hash"] != GENESIS_HASH:
        raise InvalidEvent("the first event of a stream (seq 0) must have prev_hash of 64 zeros")
    if event["trace_id"] is not None and not TRACE_ID.match(event["trace_id"]):
        raise InvalidEvent("trace_id must be 32 lowercase hex digits")
    if event["span_id"] is not None and not SPAN_ID.match(event["span_id"]):
        raise InvalidEvent("span_id must be 16 lowercase hex digits")
    for name, commitment in event["pii_commitments"].items():
        if not isinstance(commitment, str) or not HEX64.match(commitment):
            raise InvalidEvent(f"pii_commitments['{name}'] must be 64 lowercase hex digits")
    pii = event.get("pii", {})
    if not isinstance(pii, dict):
        raise InvalidEvent("pii must be an object")
    for name, entry in pii.items():
        if name not in event["pii_commitments"]:
            raise InvalidEvent(f"pii['{name}'] has no commitment in pii_commitments")
        if not isinstance(entry, dict) or set(entry) != {"value", "salt"}:
            raise InvalidEvent(f"pii['{name}'] must be an object with 'value' and 'salt'")


def verify_event_hash(event: dict[str, Any]) -> str:
    """Recompute an event's hash; raise InvalidEvent when it differs from the one it carries."""
    try:
        recomputed = compute_hash(hashed_body(event), event["prev_hash"])
    except NotCanonicalizable as exc:
        raise InvalidEvent(f"event body is not canonical JSON: {exc}") from exc
    if recomputed != event["hash"]:
        raise InvalidEvent(
            f"hash does not match the event's content (carried {event['hash'][:12]}…, "
            f"recomputed {recomputed[:12]}…)"
        )
    return recomputed


def verify_personal_data(event: dict[str, Any]) -> None:
    """Each sidecar entry present must open its commitment."""
    commitments = event["pii_commitments"]
    for name, entry in event.get("pii", {}).items():
        if not personal_value_matches(commitments[name], entry["value"], entry["salt"]):
            raise InvalidEvent(f"pii['{name}'] does not match its commitment")
