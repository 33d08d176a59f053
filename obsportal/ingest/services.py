"""Admitting batches of envelope-v1 events: the one path behind the Celery task and the API.

A batch is checked whole before anything is stored (shape, credential, every
hash, every link inside the batch); then, per stream and under a row lock on
its head, each event either extends the head, is an identical re-delivery
(a no-op), is a fork (recorded as an incident, the original kept), or waits
for a gap before it to fill.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from agents_sdk.audit.chain import (
    InvalidEvent,
    validate_envelope,
    verify_event_hash,
    verify_personal_data,
)
from obsportal.accounts.services import InvalidIngestToken, agent_for_token
from obsportal.ingest.models import (
    AuditEvent,
    IntegrityIncident,
    PendingEvent,
    PersonalDatum,
    RejectedBatch,
    Stream,
)

MAX_BATCH_EVENTS = 5000
# How far ahead of a stream's head an event may wait for the gap to fill.
MAX_PENDING_AHEAD = 10_000
REJECTED_SAMPLE = 3


class BatchRefused(Exception):
    """The batch cannot be admitted; nothing of it is stored."""

    def __init__(self, code: str, reason: str, agent_id: str = ""):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.agent_id = agent_id


@dataclass
class AdmitResult:
    status: str  # "accepted" or "rejected"
    admitted: int = 0
    duplicates: int = 0
    forks: int = 0
    pending: int = 0
    reason_code: str = ""
    reason: str = ""
    heads: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def admit_batch(batch: Any) -> AdmitResult:
    """Verify a batch and store what extends each stream's head; refuse it whole if malformed."""
    try:
        agent_id, events = _checked_batch(batch)
        return _admit(agent_id, events)
    except BatchRefused as refused:
        _record_rejection(batch, refused)
        return AdmitResult(status="rejected", reason_code=refused.code, reason=refused.reason)


def _checked_batch(batch: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
        raise BatchRefused("malformed", "a batch must be an object with an 'events' list")
    events = batch["events"]
    if not events:
        raise BatchRefused("malformed", "the batch has no events")
    if len(events) > MAX_BATCH_EVENTS:
        raise BatchRefused(
            "oversized", f"the batch has {len(events)} events; the limit is {MAX_BATCH_EVENTS}"
        )
    try:
        agent_id = agent_for_token(batch.get("token"))
    except InvalidIngestToken as exc:
        raise BatchRefused("bad_token", str(exc)) from exc
    for index, event in enumerate(events):
        try:
            validate_envelope(event)
            if event["agent_id"] != agent_id:
                raise BatchRefused(
                    "wrong_agent",
                    f"event {index} is for agent '{event['agent_id']}', but the token "
                    f"belongs to agent '{agent_id}'",
                    agent_id,
                )
            verify_event_hash(event)
            verify_personal_data(event)
        except InvalidEvent as exc:
            code = "bad_hash" if "hash does not match" in str(exc) else "invalid_event"
            raise BatchRefused(code, f"event {index}: {exc}", agent_id) from exc
    return agent_id, events


def _by_stream(events: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Group by stream and seq; the same seq twice in one batch must be the same event."""
    streams: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for event in events:
        seen = streams[event["stream"]].get(event["seq"])
        if seen is not None and seen["hash"] != event["hash"]:
            raise BatchRefused(
                "conflict_in_batch",
                f"stream {event['stream']} seq {event['seq']} appears twice with different content",
            )
        streams[event["stream"]][event["seq"]] = event
    return streams


def _admit(agent_id: str, events: list[dict[str, Any]]) -> AdmitResult:
    result = AdmitResult(status="accepted")
    streams = _by_stream(events)
    with transaction.atomic():
        # Lock heads in a fixed order so concurrent batches cannot deadlock.
        for stream_id in sorted(streams):
            _admit_stream(agent_id, stream_id, streams[stream_id], result)
    return result


def _locked_stream(agent_id: str, stream_id: str) -> Stream:
    Stream.objects.bulk_create([Stream(id=stream_id, agent_id=agent_id)], ignore_conflicts=True)
    stream = Stream.objects.select_for_update().get(id=stream_id)
    if stream.agent_id != agent_id:
        raise BatchRefused(
            "wrong_agent", f"stream {stream_id} belongs to agent '{stream.agent_id}'", agent_id
        )
    return stream


def _admit_stream(
    agent_id: str, stream_id: str, offered: dict[int, dict[str, Any]], result: AdmitResult
) -> None:
    stream = _locked_stream(agent_id, stream_id)
    known = [seq for seq in offered if seq <= stream.head_seq]
    if known:
        stored = dict(
            AuditEvent.objects.filter(stream=stream, seq__in=known).values_list("seq", "hash")
        )
        for seq in known:
            event = offered.pop(seq)
            if seq not in stored:  # below the head but absent: pruned or never admitted
                continue
            if stored[seq] == event["hash"]:
                result.duplicates += 1
            else:
                _record_fork(stream, event, stored[seq])
                result.forks += 1

    waiting = {
        pending.seq: pending
        for pending in PendingEvent.objects.filter(stream=stream, seq__gt=stream.head_seq)
    }
    admitted: list[dict[str, Any]] = []
    next_seq, head_hash = stream.head_seq + 1, stream.head_hash
    while True:
        if next_seq in offered:
            event = offered.pop(next_seq)
        elif next_seq in waiting:
            event = waiting.pop(next_seq).payload
            PendingEvent.objects.filter(stream=stream, seq=next_seq).delete()
        else:
            break
        if event["prev_hash"] != head_hash:
            raise BatchRefused(
                "broken_link",
                f"stream {stream_id} seq {next_seq}: prev_hash {event['prev_hash'][:12]}… does "
                f"not link to the stored head hash {head_hash[:12]}…",
                agent_id,
            )
        admitted.append(event)
        head_hash = event["hash"]
        next_seq += 1

    for seq, event in offered.items():  # ahead of a gap: wait for it to fill
        if seq - stream.head_seq > MAX_PENDING_AHEAD:
            raise BatchRefused(
                "too_far_ahead",
                f"stream {stream_id} seq {seq} is more than {MAX_PENDING_AHEAD} past the head",
                agent_id,
            )
        PendingEvent.objects.get_or_create(stream=stream, seq=seq, defaults={"payload": event})
        result.pending += 1

    if admitted:
        _store_events(stream, admitted)
        stream.head_seq = admitted[-1]["seq"]
        stream.head_hash = admitted[-1]["hash"]
        stream.save(update_fields=["head_seq", "head_hash", "updated_at"])
        result.admitted += len(admitted)
    result.heads[stream_id] = stream.head_seq


def _store_events(stream: Stream, events: list[dict[str, Any]]) -> None:
    reused = AuditEvent.objects.filter(event_id__in=[e["event_id"] for e in events]).values_list(
        "event_id", flat=True
    )[:1]
    if reused:
        raise BatchRefused(
            "duplicate_event_id",
            f"event_id {reused[0]} is already stored at another position",
            stream.agent_id,
        )
    rows = [
        AuditEvent(
            event_id=event["event_id"],
            stream=stream,
            seq=event["seq"],
            ts=parse_ts(event["ts"]),
            agent_id=event["agent_id"],
            action=event["action"],
            result=event["result"],
            user_id=event["user_id"],
            resource=event["resource"],
            details=event["details"],
            trace_id=event["trace_id"],
            span_id=event["span_id"],
            pii_commitments=event["pii_commitments"],
            prev_hash=event["prev_hash"],
            hash=event["hash"],
        )
        for event in events
    ]
    AuditEvent.objects.bulk_create(rows)
    sidecars = [
        PersonalDatum(event=row, field=name, value=entry["value"], salt=entry["salt"])
        for row, event in zip(rows, events, strict=True)
        for name, entry in event.get("pii", {}).items()
    ]
    if sidecars:
        PersonalDatum.objects.bulk_create(sidecars)


def _record_fork(stream: Stream, event: dict[str, Any], stored_hash: str) -> None:
    IntegrityIncident.objects.create(
        stream=stream,
        seq=event["seq"],
        kind=IntegrityIncident.Kind.FORK,
        stored_hash=stored_hash,
        offered_hash=event["hash"],
        offered_event=event,
    )
    if stream.status != Stream.Status.FORKED:
        stream.status = Stream.Status.FORKED
        stream.save(update_fields=["status", "updated_at"])


def _record_rejection(batch: Any, refused: BatchRefused) -> None:
    events = batch.get("events") if isinstance(batch, dict) else None
    sample = events[:REJECTED_SAMPLE] if isinstance(events, list) else [repr(batch)[:2000]]
    RejectedBatch.objects.create(
        agent_id=refused.agent_id,
        reason_code=refused.code,
        reason=refused.reason,
        event_count=len(events) if isinstance(events, list) else 0,
        sample=sample,
    )


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_ts(value: datetime) -> str:
    """The envelope's RFC 3339 form of a stored timestamp (UTC, microseconds, Z)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
