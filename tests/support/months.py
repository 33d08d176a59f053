"""Chains of real envelope-v1 events stamped in chosen months, for the partition tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from agents_sdk.audit.chain import GENESIS_HASH, compute_hash
from obsportal.ingest.services import admit_batch


def stamped_chain(
    agent: str, stream: str, stamps: list[datetime], *, start: int = 0, prev: str = GENESIS_HASH
) -> list[dict]:
    """One event per stamp, seq start.., linked from `prev`."""
    events = []
    for offset, ts in enumerate(stamps):
        body = {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "stream": stream,
            "seq": start + offset,
            "ts": ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "agent_id": agent,
            "action": "tool_execute",
            "result": "success",
            "user_id": "alice",
            "resource": None,
            "details": {"i": start + offset},
            "trace_id": None,
            "span_id": None,
            "pii_commitments": {},
            "prev_hash": prev,
        }
        prev = compute_hash(body, prev)
        events.append({**body, "hash": prev})
    return events


def days_from(first: datetime, count: int) -> list[datetime]:
    return [first + timedelta(hours=index) for index in range(count)]


def admit(token: str, events: list[dict]) -> None:
    verdict = admit_batch({"token": token, "events": events})
    assert verdict.status == "accepted" and verdict.admitted == len(events), verdict


MARCH_2019 = datetime(2019, 3, 10, tzinfo=UTC)
