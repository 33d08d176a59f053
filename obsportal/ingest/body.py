"""The body of an HTTP ingest request: read in bounded pieces, parsed strictly.

The API reads a body only once the credential is known (an anonymous request costs
no more than its headers). Reading stops one byte past the limit, whether the length
was declared or the body came chunked; parsing refuses what a JSON parser would
silently repair (a key given twice: which one did the agent hash?) and bounds the work
and memory a body may cost before any object is built for it.
"""

from __future__ import annotations

import json
from typing import Any

from obsportal.ingest.verdicts import MAX_BATCH_EVENTS, BatchRefused, Reason

READ_CHUNK = 64 * 1024
# Arrays and objects a batch may hold: an event is 3-4 of them plus its details. Counted
# on the raw bytes before parsing (brackets inside strings count too, erring on refusal):
# a body of 32 MiB of `{}` would otherwise become millions of dicts.
MAX_CONTAINERS_PER_EVENT = 64
MAX_CONTAINERS = MAX_BATCH_EVENTS * MAX_CONTAINERS_PER_EVENT


class BodyTooLarge(Exception):
    def __init__(self, limit: int, declared: int | None = None):
        self.limit, self.declared = limit, declared
        size = f"is {declared} bytes" if declared is not None else "exceeds the limit"
        super().__init__(f"the request body {size}; the limit is {limit} bytes")


def read_body(request, limit: int) -> bytes:
    """The body of a Django request, at most `limit` bytes, read in chunks.

    Django reads nothing of a body without Content-Length (a chunked request looks
    empty to it): gunicorn decodes the chunks behind wsgi.input, so read that.
    """
    meta = request.META
    declared = meta.get("CONTENT_LENGTH")
    if declared:
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if length > limit:
            raise BodyTooLarge(limit, length)
        stream = request
    elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        stream = meta["wsgi.input"]
    else:
        return b""
    body = bytearray()
    while len(body) <= limit:
        piece = stream.read(min(READ_CHUNK, limit + 1 - len(body)))
        if not piece:
            break
        body += piece
    if len(body) > limit:
        raise BodyTooLarge(limit)
    return bytes(body)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BatchRefused(
                    Reason.MALFORMED_JSON,
                    f"the request body gives the key {key[:40]!r} twice in one object",
                )
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise BatchRefused(Reason.MALFORMED_JSON, f"the request body holds {name}, which JSON has not")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The batch object of a body: strict JSON, one object with an 'events' list."""
    containers = raw.count(b"{") + raw.count(b"[")
    if containers > MAX_CONTAINERS:
        raise BatchRefused(
            Reason.OVERSIZED,
            f"the request body holds {containers} arrays and objects (counting brackets); "
            f"a batch may hold {MAX_CONTAINERS}",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchRefused(
            Reason.MALFORMED_JSON, f"the request body is not UTF-8 (byte {exc.start})"
        ) from None
    try:
        body = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise BatchRefused(
            Reason.MALFORMED_JSON, "the request body is nested too deeply to be a batch"
        ) from None
    except json.JSONDecodeError as exc:
        raise BatchRefused(
            Reason.MALFORMED_JSON, f"the request body is not valid JSON: {exc}"
        ) from None
    if not isinstance(body, dict):
        raise BatchRefused(
            Reason.MALFORMED,
            f"the request body must be a JSON object with an 'events' list, "
            f"not a {type(body).__name__}",
        )
    return body
