"""A verification run: every stream walked (also those only checkpoints or stray rows
name), the newest checkpoints and their copies outside PostgreSQL re-checked, and what
was found stored per stream."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from obsportal.ingest import signals
from obsportal.ingest.models import AuditEvent, Stream
from obsportal.integrity.checkpoint_chain import chain_problems, incident_problems
from obsportal.integrity.checkpoints import checkpoint_problem, read_copies
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointHead,
    StreamVerification,
    VerificationRun,
)
from obsportal.integrity.signing import SigningKeyMissing
from obsportal.integrity.verification.compare import SignedHeads
from obsportal.integrity.verification.findings import MAX_LISTED, StreamFindings
from obsportal.integrity.verification.walk import CHUNK_SIZE, Progress, verify_stream

# Only the newest checkpoints are re-checked against their signature each run,
# and only the newest copies outside PostgreSQL are read (a day at 10-minute ticks).
CHECKPOINTS_RECHECKED = 20
CHECKPOINT_COPIES_READ = 150


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
    signals.verification_finished.send_robust(
        sender=VerificationRun,
        detail={
            "run": run.pk,
            "status": str(run.status),
            "streams_checked": run.streams_checked,
            "streams_with_problems": run.streams_with_problems,
            "events_checked": run.events_checked,
        },
    )
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


def _store(run: VerificationRun, f: StreamFindings) -> StreamVerification:
    return StreamVerification.objects.create(
        run=run,
        stream_id=f.stream_id,
        status=f.status,
        events_checked=f.events_checked,
        verified_from=f.verified_from if f.verified_to is not None else None,
        verified_to=f.verified_to,
        last_seq=f.last_seq,
        recorded_head_seq=f.recorded_head_seq,
        first_break=f.first_break or (f.waiting[0] if f.waiting else None),
        breaks=[*f.breaks, *f.waiting][:MAX_LISTED],
        gaps=f.gaps[:MAX_LISTED],
        forks=f.forks,
        pruned=f.pruned,
        erased=f.erased,
        checkpoint_disagreements=f.disagreements,
        problems=f.problems,
        agent_head=f.agent_head,
    )
