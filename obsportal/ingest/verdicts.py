"""What ingestion answers: the reason codes of a refused batch, the verdict, and the limits.

Imported by every other ingest module and by the edges (task, API, metrics); it
imports nothing of the portal, so the split modules never close a circle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

MAX_BATCH_EVENTS = 5000
# The largest HTTP ingest body: 5,000 events of ~0.5 KiB is ~2.5 MiB; this leaves
# room for richer events while keeping one request's memory bounded.
MAX_BATCH_BYTES = 32 * 1024 * 1024
# How far ahead of a stream's head an event may wait for the gap to fill. As
# (stream, seq) is unique among pending events, this also bounds a stream's waiting room.
MAX_PENDING_AHEAD = 10_000


class Reason(StrEnum):
    """Stable codes of a refused batch (dead letters, API verdicts, metrics labels)."""

    MALFORMED = "malformed"  # not an object with a non-empty 'events' list
    MALFORMED_JSON = "malformed_json"  # HTTP body, or a line of a JSONL batch, is not JSON
    OVERSIZED = "oversized"  # more events (or bytes) than a batch may hold
    BAD_TOKEN = "bad_token"  # no token, or unknown or revoked
    WRONG_AGENT = "wrong_agent"  # an event or stream of another agent
    INVALID_EVENT = "invalid_event"  # does not follow envelope v1
    BAD_HASH = "bad_hash"  # hash does not recompute from the content
    CONFLICT_IN_BATCH = "conflict_in_batch"  # one (stream, seq) twice, different content
    BROKEN_LINK = "broken_link"  # prev_hash does not link to the stored head
    FORK = "fork"  # a different event at a stored seq (incident recorded)
    TOO_FAR_AHEAD = "too_far_ahead"  # beyond the bounded waiting room of a gap
    DUPLICATE_EVENT_ID = "duplicate_event_id"  # event_id stored at another position
    STORAGE_ERROR = "storage_error"  # the database refused the rows for good (task edge)
    ADMISSION_FAILED = "admission_failed"  # admission itself failed (a bug): streams marked
    INVALID_TS = "invalid_ts"  # ts is no real moment, before 2000, or too far ahead of the clock
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # HTTP body not application/json
    RATE_LIMITED = "rate_limited"  # the credential used up its allowance (HTTP edge)
    # Agent-signed heads (obsportal.ingest.heads):
    BAD_SIGNATURE = "bad_signature"  # a head's signature does not verify, or names no event
    UNSIGNED_BATCH = "unsigned_batch"  # no signed head, from a credential with a pinned key
    AGENT_KEY_MISMATCH = "agent_key_mismatch"  # signed with a key other than the pinned one


class BatchRefused(Exception):
    """The batch cannot be admitted; nothing of it is stored."""

    def __init__(self, code: Reason, reason: str, agent_id: str = ""):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.agent_id = agent_id


@dataclass
class AdmitResult:
    """The verdict on one batch, with what the edges need to count and time it."""

    status: str  # "accepted" or "rejected"
    agent_id: str = ""
    offered: int = 0
    admitted: int = 0
    duplicates: int = 0
    forks: int = 0
    pending: int = 0
    reason_code: str = ""
    reason: str = ""
    heads: dict[str, int] = field(default_factory=dict)
    # Admitted events per `result` value (success, failure, denied, error).
    admitted_by_result: dict[str, int] = field(default_factory=dict)
    # `ts` of the oldest and newest admitted event (RFC 3339), for ingest lag.
    oldest_admitted_ts: str | None = None
    newest_admitted_ts: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_count(batch: Any) -> int:
    """How many events a batch offers (0 when it has no events list)."""
    events = batch.get("events") if isinstance(batch, dict) else None
    return len(events) if isinstance(events, list) else 0
