"""Walking every stream from PostgreSQL: recompute each hash, check each link and seq,
compare with signed checkpoints, and store what was found per stream."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Min, Sum
from django.utils import timezone

from agents_sdk.audit.canonical import NotCanonicalizable
from agents_sdk.audit.chain import GENESIS_HASH, compute_hash, personal_value_matches
from obsportal.ingest.models import (
    ENVELOPE_COLUMNS,
    AuditEvent,
    IntegrityIncident,
    PersonalDatum,
    Stream,
)
from obsportal.ingest.services import format_ts
from obsportal.integrity.checkpoint_chain import chain_problems, incident_problems
from obsportal.integrity.checkpoints import checkpoint_problem, read_copies
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointHead,
    StreamVerification,
    VerificationRun,
)
from obsportal.integrity.signing import SigningKeyMissing

CHUNK_SIZE = 5000
# Lists in a stored result stop here; the counts stay exact.
MAX_LISTED = 100
# Sidecars are looked up for this many events with commitments at a time.
SIDECAR_BATCH = 1000
# Only the newest checkpoints are re-checked against their signature each run,
# and only the newest copies outside PostgreSQL are read (a day at 10-minute ticks).
CHECKPOINTS_RECHECKED = 20
CHECKPOINT_COPIES_READ = 150

# A stream's rows: the row id and every envelope column but the stream itself.
COLUMNS = ("id", *(name for name in ENVELOPE_COLUMNS if name != "stream"))

Progress = Callable[[int], None]
# stream -> seq -> [(checkpoint id, signed hash)]
SignedHeads = dict[str, dict[int, list[tuple[int, str]]]]


def pruned_ranges(stream_id: str) -> list[dict[str, Any]]:
    """Ranges removed by retention, as {"from", "to", "policy", "date"}.

    The retention app's signed anchors plug in here; until it exists nothing is
    pruned, so every missing seq is reported as a gap.
    """
    return []


@dataclass
class StreamFindings:
    stream_id: str
    recorded_head_seq: int | None
    recorded_head_hash: str | None
    events_checked: int = 0
    verified_to: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    first_break: dict[str, Any] | None = None
    breaks: list[dict[str, Any]] = field(default_factory=list)
    break_count: int = 0
    gaps: list[list[int]] = field(default_factory=list)
    forks: list[dict[str, Any]] = field(default_factory=list)
    pruned: list[dict[str, Any]] = field(default_factory=list)
    erased: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def broke(self, seq: int, event_id: str | None, reason: str) -> None:
        self.break_count += 1
        entry = {"seq": seq, "event_id": event_id, "reason": reason}
        if self.first_break is None:
            self.first_break = entry
        if len(self.breaks) < MAX_LISTED:
            self.breaks.append(entry)

    def disagree(self, entry: dict[str, Any]) -> None:
        if len(self.disagreements) < MAX_LISTED:
            self.disagreements.append(entry)
        else:
            self.break_count += 1  # still counted as a problem

    @property
    def problems(self) -> int:
        return self.break_count + len(self.gaps) + len(self.disagreements)

    @property
    def status(self) -> str:
        if self.recorded_head_seq is None and self.events_checked == 0:
            return StreamVerification.Status.MISSING
        if self.problems:
            return StreamVerification.Status.BROKEN
        if self.forks:
            return StreamVerification.Status.FORKED
        return StreamVerification.Status.VERIFIED


def estimated_events() -> int:
    """Events a full run will walk, from the stream heads (no COUNT over the big table)."""
    total = Stream.objects.filter(head_seq__gte=0).aggregate(n=Sum("head_seq"))["n"] or 0
    return total + Stream.objects.filter(head_seq__gte=0).count()


def verify_streams(
    stream_ids: list[str] | None = None,
    trigger: str = "command",
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> VerificationRun:
    """Verify the given streams (default: all, including streams known only to checkpoints)."""
    run = VerificationRun.objects.create(trigger=trigger)
    try:
        checkpoint_problems, copied = _recheck_checkpoints(run)
        # Rows of a stream ingestion has no record of are walked too: they were put
        # there around ingestion, or the stream's record was deleted. Read before the
        # records: a stream's record commits with its first rows, so one admitted in
        # between is in the records read next, never taken for one without a record.
        stored = stored_stream_ids() if stream_ids is None else set()
        streams = {s.id: s for s in Stream.objects.all()}
        signed_streams = set(CheckpointHead.objects.values_list("stream_id", flat=True).distinct())
        signed_streams |= copied.keys()
        if stream_ids is None:
            ids = sorted(streams.keys() | signed_streams | stored)
        else:
            ids = sorted(stream_ids)
        for stream_id in ids:
            stream = streams.get(stream_id)
            findings = verify_stream(
                stream_id, stream, progress=progress, chunk_size=chunk_size, copied=copied
            )
            _store(run, findings)
            run.streams_checked += 1
            run.events_checked += findings.events_checked
            run.streams_with_problems += findings.status != StreamVerification.Status.VERIFIED
        problems = run.streams_with_problems or checkpoint_problems
        run.status = (
            VerificationRun.Status.PROBLEMS if problems else VerificationRun.Status.VERIFIED
        )
    except Exception as exc:
        run.status = VerificationRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
    return run


def _recheck_checkpoints(run: VerificationRun) -> tuple[int, SignedHeads]:
    """Re-verify the newest checkpoints in the database and their copies outside it.

    Returns the problem count and the heads signed in the copies: a superuser who
    deletes a chain together with its checkpoint rows still meets those.
    """
    found: list[str] = [*chain_problems(timezone.now()), *incident_problems()]
    copied: SignedHeads = defaultdict(lambda: defaultdict(list))
    try:
        newest = list(Checkpoint.objects.order_by("-number")[:CHECKPOINTS_RECHECKED])
        for checkpoint in newest:
            run.checkpoints_checked += 1
            problem = checkpoint_problem(checkpoint)
            if problem:
                found.append(problem)
        copies, copy_problems = read_copies(CHECKPOINT_COPIES_READ)
    except SigningKeyMissing as exc:
        run.checkpoint_problems = [f"checkpoint signatures cannot be checked: {exc}", *found]
        return len(run.checkpoint_problems), copied
    found.extend(copy_problems)
    stored = dict(
        Checkpoint.objects.filter(number__in=[c.number for c in copies]).values_list(
            "number", "note"
        )
    )
    for copy in copies:
        if stored.get(copy.number) != copy.note:
            state = "is missing from" if copy.number not in stored else "differs in"
            found.append(
                f"checkpoint {copy.number} {state} the database but its signed copy "
                "outside PostgreSQL verifies"
            )
        for head in copy.heads:
            entries = copied[head.stream][head.seq]
            if all(signed_hash != head.hash for _, signed_hash in entries):
                entries.append((copy.number, head.hash))
    run.checkpoint_problems = found
    return len(found), copied


def _signed_heads(
    stream_id: str, copied: SignedHeads | None = None
) -> dict[int, list[tuple[int, str]]]:
    """seq -> [(first checkpoint number, signed hash)], one entry per distinct signed head,
    from the checkpoint table and from the copies outside PostgreSQL."""
    heads: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = (
        CheckpointHead.objects.filter(stream_id=stream_id)
        .values("seq", "hash")
        .annotate(first=Min("checkpoint__number"))
        .order_by("seq")
    )
    for row in rows:
        heads[row["seq"]].append((row["first"], row["hash"]))
    for seq, entries in (copied or {}).get(stream_id, {}).items():
        for checkpoint_id, signed_hash in entries:
            if all(known != signed_hash for _, known in heads[seq]):
                heads[seq].append((checkpoint_id, signed_hash))
    return heads


# The distinct stream ids of the audit rows, one probe of the (stream_id, seq) index per
# stream (a loose index scan), rather than a pass over every row.
_STORED_STREAMS_SQL = """
    WITH RECURSIVE s(id) AS (
        (SELECT stream_id FROM ingest_auditevent ORDER BY stream_id LIMIT 1)
        UNION ALL
        SELECT (SELECT e.stream_id FROM ingest_auditevent e
                WHERE e.stream_id > s.id ORDER BY e.stream_id LIMIT 1)
        FROM s WHERE s.id IS NOT NULL
    )
    SELECT id FROM s WHERE id IS NOT NULL
"""


def stored_stream_ids() -> set[str]:
    """Every stream that has audit rows, whether or not ingestion has a record of it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_STORED_STREAMS_SQL)
            return {row[0] for row in cursor.fetchall()}
    return set(AuditEvent.objects.values_list("stream_id", flat=True).distinct())


def verify_stream(
    stream_id: str,
    stream: Stream | None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
    copied: SignedHeads | None = None,
) -> StreamFindings:
    """Walk one stream in seq order through a server-side cursor and record what is wrong."""
    findings = StreamFindings(
        stream_id=stream_id,
        recorded_head_seq=stream.head_seq if stream else None,
        recorded_head_hash=stream.head_hash if stream else None,
    )
    findings.pruned = pruned_ranges(stream_id)
    signed = _signed_heads(stream_id, copied)
    stored_hash_at: dict[int, str] = {}
    expected, prev_hash, intact = 0, GENESIS_HASH, True
    head_hash_seen: str | None = None
    with_commitments: list[tuple[int, int, str, dict[str, str]]] = []
    done = 0
    for row in stream_rows(stream_id, chunk_size):
        pk, event_id, seq, ts, *_rest, commitments, row_prev, row_hash = row
        if seq < expected:  # only a negative seq can sort first
            findings.broke(seq, event_id, f"seq {seq} is not a position in a chain")
            intact = False
        elif seq != expected:
            findings.gaps.append([expected, seq - 1])
            missing = f"seq {expected}" if seq - 1 == expected else f"seq {expected}..{seq - 1}"
            findings.broke(expected, None, f"{missing} missing before event {event_id}")
            intact = False
        elif row_prev != prev_hash:
            reason = (
                f"prev_hash does not link to the stored hash of seq {seq - 1}: "
                f"seq {seq - 1} was rewritten or this event was forged"
                if seq
                else "the first event of the stream must link to 64 zeros"
            )
            findings.broke(seq, event_id, reason)
            intact = False
        try:
            recomputed = compute_hash(_body(stream_id, row), row_prev)
        except (NotCanonicalizable, ValueError) as exc:
            recomputed = f"unhashable: {exc}"
        if recomputed != row_hash:
            findings.broke(seq, event_id, "hash does not match the event's content")
            intact = False
        if intact:
            findings.verified_to = seq
        if seq in signed:
            stored_hash_at[seq] = row_hash
        if seq == findings.recorded_head_seq:
            head_hash_seen = row_hash
        if commitments:
            with_commitments.append((pk, seq, event_id, commitments))
            if len(with_commitments) >= SIDECAR_BATCH:
                _check_sidecars(with_commitments, findings)
                with_commitments = []
        expected, prev_hash = seq + 1, row_hash
        if findings.first_seq is None:
            findings.first_seq = seq
        findings.events_checked += 1
        findings.last_seq = seq
        done += 1
        if progress and done % chunk_size == 0:
            progress(chunk_size)
    if progress and done % chunk_size:
        progress(done % chunk_size)
    if with_commitments:
        _check_sidecars(with_commitments, findings)
    _compare_with_record(findings, head_hash_seen)
    _compare_with_checkpoints(findings, signed, stored_hash_at)
    if findings.disagreements and findings.verified_to is not None:
        # Links that hold prove nothing past the first seq a signed head disputes.
        disputed = min(d["changed"][0] for d in findings.disagreements) - 1
        findings.verified_to = disputed if disputed >= 0 else None
    findings.forks = [
        {
            "seq": i.seq,
            "stored_hash": i.stored_hash,
            "offered_hash": i.offered_hash,
            "detected_at": format_ts(i.detected_at),
        }
        for i in IntegrityIncident.objects.filter(
            stream_id=stream_id, kind=IntegrityIncident.Kind.FORK
        ).order_by("seq", "id")[:MAX_LISTED]
    ]
    return findings


# The envelope's text forms are produced by PostgreSQL itself (RFC 3339 `ts`,
# UUID text, jsonb as text parsed by orjson): measured ~2x faster than the ORM's
# per-row conversions, which made the read path the bottleneck.
_STREAM_ROWS_SQL = """
    SELECT id, event_id::text, seq,
           to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           agent_id, action, result, user_id, resource, details::text, trace_id, span_id,
           pii_commitments::text, prev_hash, hash
    FROM ingest_auditevent WHERE stream_id = %s ORDER BY seq
"""


def stream_rows(stream_id: str, chunk_size: int = CHUNK_SIZE) -> Iterator[tuple]:
    """A stream's events in seq order as tuples of COLUMNS with envelope text forms,
    through a server-side cursor (a named cursor on PostgreSQL), `chunk_size` rows a fetch."""
    if connection.vendor != "postgresql":
        rows = (
            AuditEvent.objects.filter(stream_id=stream_id)
            .order_by("seq")
            .values_list(*COLUMNS)
            .iterator(chunk_size=chunk_size)
        )
        for pk, event_id, seq, ts, *middle, commitments, prev, digest in rows:
            yield (pk, str(event_id), seq, format_ts(ts), *middle, commitments, prev, digest)
        return
    loads = orjson.loads
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(_STREAM_ROWS_SQL, [stream_id])
        while batch := cursor.fetchmany(chunk_size):
            for row in batch:
                row = list(row)
                row[9], row[12] = loads(row[9]), loads(row[12])
                yield row


def _body(stream_id: str, row: tuple) -> dict[str, Any]:
    (
        _pk,
        event_id,
        seq,
        ts,
        agent_id,
        action,
        result,
        user_id,
        resource,
        details,
        trace_id,
        span_id,
        commitments,
        prev_hash,
        _hash,
    ) = row
    return {
        "v": 1,
        "event_id": event_id,
        "stream": stream_id,
        "seq": seq,
        "ts": ts,
        "agent_id": agent_id,
        "action": action,
        "result": result,
        "user_id": user_id,
        "resource": resource,
        "details": details,
        "trace_id": trace_id,
        "span_id": span_id,
        "pii_commitments": commitments,
        "prev_hash": prev_hash,
    }


def _check_sidecars(
    batch: list[tuple[int, int, str, dict[str, str]]], findings: StreamFindings
) -> None:
    """A missing sidecar is an erasure; a present one must still open its commitment."""
    present = {
        (event_pk, name): (value, salt)
        for event_pk, name, value, salt in PersonalDatum.objects.filter(
            event_id__in=[pk for pk, *_ in batch]
        ).values_list("event_id", "field", "value", "salt")
    }
    for pk, seq, event_id, commitments in batch:
        for name, commitment in sorted(commitments.items()):
            entry = present.get((pk, name))
            if entry is None:
                if len(findings.erased) < MAX_LISTED:
                    findings.erased.append({"seq": seq, "event_id": event_id, "field": name})
            elif not personal_value_matches(commitment, *entry):
                findings.broke(
                    seq, event_id, f"personal-data sidecar '{name}' does not open its commitment"
                )


def _compare_with_record(findings: StreamFindings, head_hash_seen: str | None) -> None:
    """The stream's recorded head (kept by ingestion) must be the last stored event.

    Ingestion keeps running during a walk. The head read before the walk is
    covered by the cursor's snapshot, so events missing below it are missing;
    events beyond it are checked against the head as it stands after the walk.
    """
    head = findings.recorded_head_seq
    last = findings.last_seq if findings.last_seq is not None else -1
    if head is None:
        if findings.events_checked:
            findings.broke(
                findings.first_seq if findings.first_seq is not None else 0,
                None,
                f"{findings.events_checked} events are stored for this stream, but ingestion "
                "has no record of it: its record was deleted, or the rows were put there "
                "around ingestion",
            )
        return
    if last < head:
        findings.broke(
            last + 1,
            None,
            f"events seq {last + 1}..{head} are missing: the stream's recorded head is seq {head}",
        )
        return
    if head >= 0 and head_hash_seen != findings.recorded_head_hash:
        findings.broke(
            head,
            None,
            f"the stored event at the recorded head seq {head} does not have the recorded "
            f"head hash {str(findings.recorded_head_hash)[:12]}…",
        )
    if last > head:
        current = (
            Stream.objects.filter(pk=findings.stream_id).values_list("head_seq", flat=True).first()
        )
        if current is None or current < last:
            findings.broke(
                head + 1,
                None,
                f"events seq {head + 1}..{last} lie beyond the recorded head seq "
                f"{current if current is not None else head}: not admitted by ingestion",
            )


def _compare_with_checkpoints(
    findings: StreamFindings,
    signed: dict[int, list[tuple[int, str]]],
    stored_hash_at: dict[int, str],
) -> None:
    """Every head a checkpoint signed must still be stored with the same hash.

    A disagreement is located between the nearest earlier signed head that still
    agrees (everything up to it is proven original: the chain links to a signed
    hash) and the disagreeing one: `changed` is that seq range.
    """
    agreeing = [
        seq
        for seq, entries in signed.items()
        if stored_hash_at.get(seq) is not None and all(h == stored_hash_at[seq] for _, h in entries)
    ]
    for seq, entries in sorted(signed.items()):
        stored = stored_hash_at.get(seq)
        after = max((a for a in agreeing if a < seq), default=-1) + 1
        for checkpoint_id, signed_hash in entries:
            if stored is None:
                first_missing = max(after, (findings.last_seq or -1) + 1)
                findings.disagree(
                    {
                        "checkpoint": checkpoint_id,
                        "seq": seq,
                        "signed_hash": signed_hash,
                        "stored_hash": None,
                        "changed": [first_missing, seq],
                        "reason": f"checkpoint {checkpoint_id} signed head seq {seq}, "
                        "which is no longer stored: the stream was truncated or deleted "
                        f"(seq {first_missing}..{seq} gone or altered)",
                    }
                )
            elif stored != signed_hash:
                findings.disagree(
                    {
                        "checkpoint": checkpoint_id,
                        "seq": seq,
                        "signed_hash": signed_hash,
                        "stored_hash": stored,
                        "changed": [after, seq],
                        "reason": f"checkpoint {checkpoint_id} signed seq {seq} with hash "
                        f"{signed_hash[:12]}…, the stored event has {stored[:12]}…: "
                        f"the stream was rewritten within seq {after}..{seq}",
                    }
                )


def _store(run: VerificationRun, f: StreamFindings) -> StreamVerification:
    return StreamVerification.objects.create(
        run=run,
        stream_id=f.stream_id,
        status=f.status,
        events_checked=f.events_checked,
        verified_from=0 if f.verified_to is not None else None,
        verified_to=f.verified_to,
        last_seq=f.last_seq,
        recorded_head_seq=f.recorded_head_seq,
        first_break=f.first_break,
        breaks=f.breaks,
        gaps=f.gaps[:MAX_LISTED],
        forks=f.forks,
        pruned=f.pruned,
        erased=f.erased,
        checkpoint_disagreements=f.disagreements,
        problems=f.problems,
    )
