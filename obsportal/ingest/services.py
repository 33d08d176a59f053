"""Admitting batches of envelope-v1 events: the one path behind the Celery task and the API.

A batch is checked whole before anything is stored (`decoding`: shape, credential,
every hash, every link inside the batch); then, per stream and under a row lock on
its head, each event either extends the head, is an identical re-delivery (a
no-op), is a fork (recorded as an incident, the original kept, the batch refused),
or waits for a gap before it to fill. What is admitted is written by `storage`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction

from obsportal.ingest import storage
from obsportal.ingest.dead_letters import record_rejection
from obsportal.ingest.decoding import EventsByStream, by_stream, checked_batch, decode_batch
from obsportal.ingest.envelope import Canonicals
from obsportal.ingest.heads import checked_heads, pin_key, store_signed_heads
from obsportal.ingest.storage import Head
from obsportal.ingest.verdicts import (
    MAX_PENDING_AHEAD,
    AdmitResult,
    BatchRefused,
    Reason,
    event_count,
)

logger = logging.getLogger(__name__)


def admit_batch(batch: Any) -> AdmitResult:
    """Verify a batch and store what extends each stream's head; refuse it whole if malformed."""
    agent_id = ""
    try:
        batch = decode_batch(batch)
        agent_id, credential, events, canonicals = checked_batch(batch)
        return _admit(agent_id, credential, batch, events, canonicals)
    except BatchRefused as refused:
        record_rejection(batch, refused.code, refused.reason, refused.agent_id or agent_id)
        return AdmitResult(
            status="rejected",
            agent_id=refused.agent_id or agent_id,
            offered=event_count(batch),
            reason_code=refused.code,
            reason=refused.reason,
        )
    except _ForkRefused as forked:
        record_rejection(batch, Reason.FORK, forked.reason, agent_id)
        return AdmitResult(
            status="rejected",
            agent_id=agent_id,
            offered=event_count(batch),
            forks=forked.forks,
            duplicates=forked.duplicates,
            reason_code=Reason.FORK,
            reason=forked.reason,
        )
    except DatabaseError:
        raise  # the edges retry what the database refused (connection lost, restarting)
    except Exception as exc:
        # Anything else would fail again on every resend and stall the stream silently:
        # a verdict instead, a dead letter, and the streams marked for someone to look at.
        logger.exception("admitting a batch of agent %r failed", agent_id)
        reason = f"admitting the batch failed: {type(exc).__name__}: {exc}"
        streams = storage.mark_stalled(agent_id, batch)
        if streams:
            reason += f" (streams marked stalled: {', '.join(streams)})"
        record_rejection(batch, Reason.ADMISSION_FAILED, reason, agent_id)
        return AdmitResult(
            status="rejected",
            agent_id=agent_id,
            offered=event_count(batch),
            reason_code=Reason.ADMISSION_FAILED,
            reason=reason,
        )


def refuse_batch(
    batch: Any, code: Reason, reason: str, agent_id: str = "", raw: bytes | None = None
) -> AdmitResult:
    """Dead-letter a batch an edge could not hand to `admit_batch` (bad JSON, storage error)."""
    record_rejection(batch, code, reason, agent_id, raw=raw)
    return AdmitResult(
        status="rejected",
        agent_id=agent_id,
        offered=event_count(batch),
        reason_code=code,
        reason=reason,
    )


class _ForkRefused(Exception):
    """Forks were found: the incidents are committed, the rest of the batch is not stored."""

    def __init__(self, forks: int, duplicates: int, reason: str):
        super().__init__(reason)
        self.forks, self.duplicates, self.reason = forks, duplicates, reason


def _admit(
    agent_id: str,
    credential: int,
    batch: dict[str, Any],
    events: list[dict[str, Any]],
    canonicals: Canonicals,
) -> AdmitResult:
    result = AdmitResult(status="accepted", agent_id=agent_id, offered=len(events))
    streams = by_stream(events)
    signed = checked_heads(batch, agent_id, streams)
    try:
        with transaction.atomic():
            # The pin first: a stream this batch creates is then younger than its key's pin
            # (verification tells streams that predate their agent's key from made-up ones).
            pin_key(credential, agent_id, signed)
            heads = locked_heads(agent_id, sorted(streams))
            forks = _drop_known(heads, streams, result)
            if forks:
                # Record the incidents (committed with this transaction) and store nothing else:
                # a journal that rewrote its past must be looked at before it ships more.
                storage.record_forks(forks)
                first = forks[0]
                raise_after_commit = _ForkRefused(
                    len(forks),
                    result.duplicates,
                    f"stream {first[0].id} seq {first[1]['seq']}: a different event is already "
                    f"stored at this seq (stored {first[2][:12]}…, offered "
                    f"{first[1]['hash'][:12]}…); recorded as an integrity incident",
                )
            else:
                raise_after_commit = None
                admitted = _admit_in_order(agent_id, heads, streams, result)
                if admitted:
                    _refuse_stored_event_ids(agent_id, admitted)
                    storage.store_events(admitted, canonicals)
                storage.save_heads([head for head in heads.values() if head.changed])
                store_signed_heads(signed)
    except IntegrityError as exc:
        _refuse_reused_event_id(agent_id, events, exc)
        raise
    if raise_after_commit is not None:
        raise raise_after_commit
    result.heads = {stream_id: head.seq for stream_id, head in heads.items()}
    return result


def locked_heads(agent_id: str, stream_ids: list[str]) -> dict[str, Head]:
    """Lock the heads of `stream_ids` (in a transaction), creating missing streams for
    `agent_id`; a stream of another agent, or the portal's own trail, refuses the batch."""
    heads = storage.lock_heads(stream_ids)
    missing = [stream_id for stream_id in stream_ids if stream_id not in heads]
    trail = settings.OBSPORTAL_TRAIL_STREAM
    if agent_id != settings.OBSPORTAL_TRAIL_AGENT_ID:
        # The portal's own trail streams (one per process: `<trail>-<host>-<pid>-...`) are
        # its own agent's: nobody else may start one first.
        for stream_id in missing:
            if stream_id == trail or stream_id.startswith(f"{trail}-"):
                raise BatchRefused(
                    Reason.WRONG_AGENT, f"stream {stream_id} is the portal's own trail", agent_id
                )
    if missing:
        storage.create_streams(agent_id, missing)
        heads = storage.lock_heads(stream_ids)
    for head in heads.values():
        if head.agent_id != agent_id:
            raise BatchRefused(
                Reason.WRONG_AGENT,
                f"stream {head.id} belongs to agent '{head.agent_id}'",
                agent_id,
            )
    return heads


def _drop_known(
    heads: dict[str, Head], streams: EventsByStream, result: AdmitResult
) -> list[tuple[Head, dict[str, Any], str]]:
    """Take events at or below their head out of the batch: duplicates or forks."""
    known = [
        (stream_id, seq)
        for stream_id, offered in streams.items()
        for seq in offered
        if seq <= heads[stream_id].seq
    ]
    if not known:
        return []
    stored = storage.stored_hashes(known)
    forks = []
    for stream_id, seq in known:
        event = streams[stream_id].pop(seq)
        stored_hash = stored.get((stream_id, seq))
        if stored_hash is None:  # below the head but absent: pruned by retention
            continue
        if stored_hash == event["hash"]:
            result.duplicates += 1
        else:
            forks.append((heads[stream_id], event, stored_hash))
    return forks


def _admit_in_order(
    agent_id: str, heads: dict[str, Head], streams: EventsByStream, result: AdmitResult
) -> list[dict[str, Any]]:
    """Walk each stream from its head through offered and waiting events; park the rest."""
    waiting = storage.waiting_events([head for head in heads.values() if head.pending_count])
    admitted: list[dict[str, Any]] = []
    parked: list[tuple[str, int, dict[str, Any]]] = []
    for stream_id, offered in streams.items():
        head = heads[stream_id]
        queue = waiting.get(stream_id, {})
        start = len(admitted)
        while True:
            next_seq = head.seq + 1
            # An offered event wins over a waiting copy of the same seq; both leave the queue.
            waited = queue.pop(next_seq, None)
            event = offered.pop(next_seq, None) or waited
            if event is None:
                break
            if event["prev_hash"] != head.hash:
                raise BatchRefused(
                    Reason.BROKEN_LINK,
                    f"stream {stream_id} seq {next_seq}: prev_hash {event['prev_hash'][:12]}… "
                    f"does not link to the stored head hash {head.hash[:12]}…",
                    agent_id,
                )
            admitted.append(event)
            head.seq, head.hash, head.changed = next_seq, event["hash"], True
        for seq, event in offered.items():  # ahead of a gap: wait for it to fill
            if seq - head.seq > MAX_PENDING_AHEAD:
                raise BatchRefused(
                    Reason.TOO_FAR_AHEAD,
                    f"stream {stream_id} seq {seq} is more than {MAX_PENDING_AHEAD} past the "
                    f"head ({head.seq}); the gap before it must be shipped first",
                    agent_id,
                )
            if seq not in queue:
                parked.append((stream_id, seq, event))
                queue[seq] = event
            result.pending += 1
        if len(admitted) > start or head.pending_count != len(queue):
            head.pending_count, head.changed = len(queue), True
            if stream_id in waiting:
                # Waiting events at or below the new head are admitted (or superseded).
                storage.release_waiting(stream_id, head.seq)
    storage.park_events(parked)
    for event in admitted:
        result.admitted_by_result[event["result"]] = (
            result.admitted_by_result.get(event["result"], 0) + 1
        )
    if admitted:
        result.admitted = len(admitted)
        stamps = [event["ts"] for event in admitted]
        result.oldest_admitted_ts, result.newest_admitted_ts = min(stamps), max(stamps)
    return admitted


def _refuse_stored_event_ids(agent_id: str, admitted: list[dict[str, Any]]) -> None:
    """An event_id is one event, in whatever stream or month: no unique index spans the
    audit table's month partitions (ingest migration 0013), so admission checks, under the
    head locks, both this batch and every stored row."""
    seen: dict[str, dict[str, Any]] = {}
    for event in admitted:
        first = seen.setdefault(event["event_id"], event)
        if first is not event:
            raise BatchRefused(
                Reason.DUPLICATE_EVENT_ID,
                f"event_id {event['event_id']} is used twice in the batch (stream "
                f"{first['stream']} seq {first['seq']} and stream {event['stream']} seq "
                f"{event['seq']})",
                agent_id,
            )
    reused = storage.stored_event_id(list(seen))
    if reused is not None:
        raise BatchRefused(
            Reason.DUPLICATE_EVENT_ID,
            f"event_id {reused[0]} is already stored at another position "
            f"(stream {reused[1]} seq {reused[2]})",
            agent_id,
        )


def _refuse_reused_event_id(agent_id: str, events: list[dict[str, Any]], exc: Exception) -> None:
    """A unique violation under the head locks can only be an event_id stored elsewhere."""
    reused = storage.stored_position([e["event_id"] for e in events])
    if reused is None:
        return  # not ours to explain: let the caller retry
    raise BatchRefused(
        Reason.DUPLICATE_EVENT_ID,
        f"event_id {reused[0]} is already stored at another position "
        f"(stream {reused[1]} seq {reused[2]})",
        agent_id,
    ) from exc
