"""RFC 8785 (JSON Canonicalization Scheme) serialization.

The fast path uses orjson, whose output is byte-identical to RFC 8785 for the
values it is allowed to see here: no floats (ECMAScript number formatting
differs from orjson's) and only ASCII object keys (RFC 8785 sorts keys by
UTF-16 code units, orjson by code points; the orders agree on ASCII). Anything
else goes through the `rfc8785` reference package. Property tests hold the two
paths to the same bytes.

Beyond RFC 8785, U+0000 is refused in strings and keys: PostgreSQL's jsonb
cannot store it, and an event the portal cannot store must fail at the call site.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

# I-JSON (RFC 7493) interoperable integer range: what every verifier, in any
# language, can read back exactly.
MAX_SAFE_INTEGER = 2**53 - 1
# The deepest nesting of arrays and objects in a value. Audit details are records;
# the bound keeps every recursive walk (here, in verifiers, in other languages) far
# from its stack limit.
MAX_DEPTH = 32


class NotCanonicalizable(ValueError):
    """The value cannot be represented as interoperable JSON."""


def canonicalize(value: Any, *, round_trip: bool = False) -> bytes:
    """Return the RFC 8785 bytes of `value`, refusing anything that is not plain JSON.

    round_trip=True also refuses a float that RFC 8785 writes as an integer outside
    ±2^53 (2.0**53 is written `9007199254740992`): whoever parses the event back
    gets an integer that no verifier can canonicalize again, so an event holding
    one could be recorded but never verified or stored by the portal.
    """
    if _is_plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError as exc:  # lone surrogates
            raise NotCanonicalizable(str(exc)) from exc
    if _needs_reference_path(value, "$"):
        if round_trip:
            _check_round_trip(value, "$")
        try:
            return rfc8785.dumps(value)
        except rfc8785.CanonicalizationError as exc:  # pragma: no cover - checked above
            raise NotCanonicalizable(str(exc)) from exc
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise NotCanonicalizable(str(exc)) from exc


def _check_round_trip(value: Any, where: str) -> None:
    kind = type(value)
    if kind is float:
        if MAX_SAFE_INTEGER < abs(value) < 1e21 and value.is_integer():
            raise NotCanonicalizable(
                f"{where}: {value!r} would be read back as an integer outside the range ±2^53"
            )
    elif kind is dict:
        for key, item in value.items():
            _check_round_trip(item, f"{where}.{key}")
    elif kind is list or kind is tuple:
        for index, item in enumerate(value):
            _check_round_trip(item, f"{where}[{index}]")


def _is_plain(value: Any, depth: int = 0) -> bool:
    """A quick yes for what orjson may serialize as is: no floats, ASCII keys, valid.

    Anything else (a float, a non-ASCII key, or an invalid value) answers False
    and goes through `_needs_reference_path`, which decides and names the
    problem. Leaves are checked inline: this runs on every recorded event.
    """
    kind = type(value)
    if depth >= MAX_DEPTH and (kind is dict or kind is list or kind is tuple):
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or "\x00" in key:
                return False
            kind = type(item)
            if kind is str:
                if "\x00" in item:
                    return False
            elif kind is int:
                if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    return False
            elif not (kind is bool or item is None or _is_plain(item, depth + 1)):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_is_plain(item, depth + 1) for item in value)
    if kind is str:
        return "\x00" not in value
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    return kind is bool or value is None


def _needs_reference_path(value: Any, where: str, depth: int = 0) -> bool:
    """Validate `value` as plain JSON; True when it holds a float or a non-ASCII key."""
    kind = type(value)
    if depth >= MAX_DEPTH and (kind is dict or kind is list or kind is tuple):
        raise NotCanonicalizable(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if kind is str:
        if "\x00" in value:
            raise NotCanonicalizable(f"{where}: strings may not contain NUL (U+0000)")
        return False
    if kind is dict:
        slow = False
        for key, item in value.items():
            if type(key) is not str:
                raise NotCanonicalizable(f"{where}: object keys must be strings, got {key!r}")
            if not key.isascii():
                slow = True
            if "\x00" in key:
                raise NotCanonicalizable(f"{where}: keys may not contain NUL (U+0000)")
            if _needs_reference_path(item, f"{where}.{key}", depth + 1):
                slow = True
        return slow
    if kind is list or kind is tuple:
        slow = False
        for index, item in enumerate(value):
            if _needs_reference_path(item, f"{where}[{index}]", depth + 1):
                slow = True
        return slow
    if kind is bool or value is None:
        return False
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return False
        raise NotCanonicalizable(f"{where}: integer {value} is outside the range ±2^53")
    if kind is float:
        if math.isfinite(value):
            return True
        raise NotCanonicalizable(f"{where}: {value} is not a JSON number (NaN, Infinity)")
    raise NotCanonicalizable(
        f"{where}: {kind.__name__} is not a JSON value (str, int, float, bool, None, list, dict)"
    )
