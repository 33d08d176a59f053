"""A batch as it arrives, made into the events admission takes: decoded, bounded, its
credential and every event's envelope, hash and in-batch links checked.

Nothing here touches a stream: a batch that fails any check is refused whole
before admission locks a head.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.conf import settings

from agents_sdk.audit.canonical import NotCanonicalizable
from agents_sdk.audit.chain import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    InvalidTimestamp,
    canonical_body,
    validate_envelope,
    verify_personal_data,
)
from obsportal.accounts.services import InvalidIngestToken, credential_for_token
from obsportal.ingest.envelope import Canonicals
from obsportal.ingest.verdicts import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, BatchRefused, Reason

# stream -> seq -> event
EventsByStream = dict[str, dict[int, dict[str, Any]]]


def decode_batch(batch: Any) -> Any:
    """The events form `{"token", "events": [...]}` of a batch sent as JSONL lines.

    Shippers send `{"token", "lines": "<one event per line>"}`: the broker's JSON
    codec then handles one string instead of thousands of nested objects, and the
    lines are parsed here with orjson (measured in benchmarks/INGEST.md). Any other
    batch is returned as it is; a line that is not JSON refuses the batch.
    """
    if not isinstance(batch, dict) or "lines" not in batch or "events" in batch:
        return batch
    text = batch["lines"]
    if not isinstance(text, str):
        raise BatchRefused(Reason.MALFORMED, "a batch's 'lines' must be a string of JSON lines")
    if len(text) > MAX_BATCH_BYTES:
        raise BatchRefused(
            Reason.OVERSIZED, f"the batch is {len(text)} characters; the limit is {MAX_BATCH_BYTES}"
        )
    # Newlines only: U+2028, U+0085 and friends may stand unescaped inside a JSON string.
    lines = text.removesuffix("\n").split("\n") if text else []
    if len(lines) > MAX_BATCH_EVENTS:
        raise BatchRefused(
            Reason.OVERSIZED, f"the batch has {len(lines)} events; the limit is {MAX_BATCH_EVENTS}"
        )
    loads = orjson.loads
    try:
        events = [loads(line) for line in lines]
    except orjson.JSONDecodeError:
        index = next(i for i, line in enumerate(lines) if not _is_json(line))
        raise BatchRefused(
            Reason.MALFORMED_JSON, f"line {index} of the batch is not JSON: {lines[index][:80]!r}"
        ) from None
    decoded = {"token": batch.get("token"), "events": events}
    if "heads" in batch:
        decoded["heads"] = batch["heads"]
    return decoded


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def checked_batch(batch: Any) -> tuple[str, int, list[dict[str, Any]], Canonicals]:
    """(agent_id, credential pk, events, their canonical bodies) of a well-formed batch
    whose token is live and whose events are envelope v1, of that agent, with hashes
    that recompute; else BatchRefused."""
    if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
        raise BatchRefused(Reason.MALFORMED, "a batch must be an object with an 'events' list")
    events = batch["events"]
    if not events:
        raise BatchRefused(Reason.MALFORMED, "the batch has no events")
    if len(events) > MAX_BATCH_EVENTS:
        raise BatchRefused(
            Reason.OVERSIZED,
            f"the batch has {len(events)} events; the limit is {MAX_BATCH_EVENTS}",
        )
    try:
        credential, agent_id = credential_for_token(batch.get("token"))
    except InvalidIngestToken as exc:
        raise BatchRefused(Reason.BAD_TOKEN, str(exc)) from exc
    canonicals: Canonicals = {}
    latest_ts = _latest_accepted_ts()
    for index, event in enumerate(events):
        try:
            validate_envelope(event)
            if event["ts"] > latest_ts:
                raise InvalidTimestamp(
                    f"ts '{event['ts']}' is more than {settings.OBSPORTAL_TS_MAX_SKEW_SECONDS} s "
                    "ahead of the portal's clock"
                )
            if event["agent_id"] != agent_id:
                raise BatchRefused(
                    Reason.WRONG_AGENT,
                    f"event {index} is for agent '{event['agent_id']}', but the token "
                    f"belongs to agent '{agent_id}'",
                    agent_id,
                )
            canonicals[event["stream"], event["seq"]] = _verify_hash(event)
            verify_personal_data(event)
        except InvalidTimestamp as exc:
            raise BatchRefused(Reason.INVALID_TS, f"event {index}: {exc}", agent_id) from exc
        except InvalidEvent as exc:
            code = Reason.BAD_HASH if "hash does not match" in str(exc) else Reason.INVALID_EVENT
            raise BatchRefused(code, f"event {index}: {exc}", agent_id) from exc
    return agent_id, credential, events, canonicals


def _latest_accepted_ts() -> str:
    """The latest `ts` admitted now, in the envelope's form: RFC 3339 strings of one fixed
    shape order as their moments do, so each event costs one string comparison."""
    latest = datetime.now(UTC) + timedelta(seconds=settings.OBSPORTAL_TS_MAX_SKEW_SECONDS)
    return latest.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _verify_hash(event: dict[str, Any]) -> bytes:
    """Recompute the hash from the canonical body, refusing bodies over the SDK's size limit."""
    try:
        canonical = canonical_body(event)
    except NotCanonicalizable as exc:
        raise InvalidEvent(f"event body is not canonical JSON: {exc}") from exc
    if len(canonical) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event is {len(canonical)} bytes once canonicalized; the limit is {MAX_EVENT_BYTES}"
        )
    recomputed = hashlib.sha256(bytes.fromhex(event["prev_hash"]) + canonical).hexdigest()
    if recomputed != event["hash"]:
        raise InvalidEvent(
            f"hash does not match the event's content (carried {event['hash'][:12]}…, "
            f"recomputed {recomputed[:12]}…)"
        )
    return canonical


def by_stream(events: list[dict[str, Any]]) -> EventsByStream:
    """Group by stream and seq; the same seq twice in one batch must be the same event."""
    streams: EventsByStream = defaultdict(dict)
    for event in events:
        seen = streams[event["stream"]].get(event["seq"])
        if seen is not None and seen["hash"] != event["hash"]:
            raise BatchRefused(
                Reason.CONFLICT_IN_BATCH,
                f"stream {event['stream']} seq {event['seq']} appears twice with different content",
            )
        streams[event["stream"]][event["seq"]] = event
    return streams
