"""Walking one stream from PostgreSQL: recompute each hash, check each link and seq and
each personal-data sidecar, then compare with the recorded head and signed checkpoints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min

from agents_sdk.audit.canonical import NotCanonicalizable
from agents_sdk.audit.chain import GENESIS_HASH, compute_hash, personal_value_matches
from obsportal.ingest.envelope import (
    JSON_COLUMNS,
    STREAM_ROW_COLUMNS,
    format_ts,
    hashed_body_reader,
    text_select_list,
)
from obsportal.ingest.models import (
    AuditEvent,
    IntegrityIncident,
    PendingEvent,
    PersonalDatum,
    Stream,
)
from obsportal.integrity.anchors import anchor_problems, pruned_ranges
from obsportal.integrity.erasures import erasures_of
from obsportal.integrity.verification.agent_heads import compare_with_agent_head, signed_head_of
from obsportal.integrity.verification.compare import (
    SignedHeads,
    compare_with_checkpoints,
    compare_with_record,
    signed_heads,
)
from obsportal.integrity.verification.findings import MAX_LISTED, StreamFindings

CHUNK_SIZE = 5000
# Sidecars are looked up for this many events with commitments at a time.
SIDECAR_BATCH = 1000

# A stream's rows: the row id, every envelope column but the stream itself, and the
# canonical body the hash covers.
COLUMNS = ("id", *STREAM_ROW_COLUMNS, "canonical")
_JSON_AT = tuple(COLUMNS.index(name) for name in JSON_COLUMNS)
_AGENT_AT = COLUMNS.index("agent_id")
_hashed_body = hashed_body_reader(offset=1)  # past the row id
# The hashed fields a column must still hold as the canonical body has them. `details`
# is left out: jsonb rewrites numbers, and it is a query aid only.
_CHECKED_COLUMNS = tuple(
    name
    for name in (
        "event_id",
        "seq",
        "ts",
        "agent_id",
        "action",
        "result",
        "user_id",
        "resource",
        "trace_id",
        "span_id",
        "pii_commitments",
        "prev_hash",
    )
)

Progress = Callable[[int], None]


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
    expected, prev_hash = _start_after_anchors(stream_id, findings)
    signed = signed_heads(stream_id, copied)
    # The agent-signed head as it stood before the walk: its seq is where the walk notes
    # the stored hash; the head itself is re-read after the walk (it may move meanwhile).
    agent_signed = signed_head_of(stream_id)
    agent_seq = agent_signed.seq if agent_signed is not None else None
    agent_hash_seen: dict[int, str] = {}
    agent_id: str | None = None
    stored_hash_at: dict[int, str] = {}
    if expected:
        # Heads signed inside the pruned range: the one at an anchor's end must be the hash
        # the anchor kept; those below it went with the rows the signed anchors account for.
        anchored = {r["to"]: r["last_hash"] for r in findings.pruned}
        for seq in [seq for seq in signed if seq < expected]:
            if seq in anchored:
                stored_hash_at[seq] = anchored[seq]
            else:
                del signed[seq]
    intact = True
    findings.verified_from = expected
    head_hash_seen: str | None = prev_hash if expected - 1 == findings.recorded_head_seq else None
    with_commitments: list[tuple[int, int, str, dict[str, str]]] = []
    erased_by = erasures_of(stream_id)
    done = 0
    sha256 = hashlib.sha256
    for row in stream_rows(stream_id, chunk_size):
        pk, event_id, seq, ts, *_rest, commitments, row_prev, row_hash, canonical = row
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
        if canonical is not None:
            # The hash covers the stored canonical bytes; the columns must agree with them.
            recomputed = sha256(bytes.fromhex(row_prev) + canonical.encode()).hexdigest()
            body, altered = _checked_body(stream_id, row, canonical)
            if altered:
                findings.broke(
                    seq,
                    event_id,
                    f"column(s) {', '.join(altered)} differ from the hashed body: the stored "
                    "row was altered",
                )
                intact = False
            commitments = body.get("pii_commitments") if body else None
        else:  # a row stored before the canonical column: rebuilt from the columns
            try:
                recomputed = compute_hash(_hashed_body(stream_id, row), row_prev)
            except (NotCanonicalizable, ValueError) as exc:
                recomputed = f"unhashable: {exc}"
        if recomputed != row_hash:
            findings.broke(seq, event_id, "hash does not match the event's content")
            intact = False
        if intact:
            findings.verified_to = seq
        if seq in signed:
            stored_hash_at[seq] = row_hash
        if seq == agent_seq:
            agent_hash_seen[seq] = row_hash
        if agent_id is None:
            agent_id = row[_AGENT_AT]
        if seq == findings.recorded_head_seq:
            head_hash_seen = row_hash
        if commitments:
            with_commitments.append((pk, seq, event_id, commitments))
            if len(with_commitments) >= SIDECAR_BATCH:
                _check_sidecars(with_commitments, findings, erased_by)
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
        _check_sidecars(with_commitments, findings, erased_by)
    compare_with_record(findings, head_hash_seen)
    compare_with_checkpoints(findings, signed, stored_hash_at)
    if findings.disagreements and findings.verified_to is not None:
        # Links that hold prove nothing past the first seq a signed head disputes.
        disputed = min(d["changed"][0] for d in findings.disagreements) - 1
        findings.verified_to = disputed if disputed >= 0 else None
    _report_waiting(findings, stream)
    after = signed_head_of(stream_id)
    if after is not None and after.seq != agent_seq:
        # A batch moved the signed head during the walk: hold the walk to what it saw.
        moved = AuditEvent.objects.filter(stream_id=stream_id, seq=after.seq).values_list(
            "hash", flat=True
        )
        agent_hash_seen[after.seq] = next(iter(moved), None)  # type: ignore[assignment]
    compare_with_agent_head(
        findings,
        stream,
        agent_id,
        after,
        agent_hash_seen.get(after.seq) if after is not None else None,
    )
    incidents = IntegrityIncident.objects.filter(
        stream_id=stream_id, kind=IntegrityIncident.Kind.FORK
    ).order_by("seq", "id")
    findings.forks = [
        {
            "seq": i.seq,
            "stored_hash": i.stored_hash,
            "offered_hash": i.offered_hash,
            "detected_at": format_ts(i.detected_at),
        }
        for i in incidents[:MAX_LISTED]
    ]
    _compare_with_trail(findings, {(i.seq, i.offered_hash) for i in incidents})
    return findings


def _start_after_anchors(stream_id: str, findings: StreamFindings) -> tuple[int, str]:
    """Where the walk starts: seq 0, or just after the newest prune anchor, linking to the
    hash it kept. Anchors that do not stand (a signature, a hole between them, a row
    altered) explain nothing: the walk starts at 0 and the removed rows are gaps."""
    ranges = pruned_ranges(stream_id)
    if not ranges:
        return 0, GENESIS_HASH
    problems = anchor_problems(stream_id)
    if problems:
        for problem in problems:
            findings.broke(0, None, problem)
        return 0, GENESIS_HASH
    findings.pruned = ranges
    return ranges[-1]["to"] + 1, ranges[-1]["last_hash"]


# The rows in the envelope's text forms, produced by PostgreSQL itself (see
# `envelope.TEXT_FORMS`), jsonb parsed by orjson: the read path was the bottleneck.
_STREAM_ROWS_SQL = f"""
    SELECT {text_select_list(COLUMNS)}
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
        for pk, event_id, seq, ts, *middle, canonical in rows:
            yield (pk, str(event_id), seq, format_ts(ts), *middle, canonical)
        return
    loads = orjson.loads
    details, commitments = _JSON_AT
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(_STREAM_ROWS_SQL, [stream_id])
        while batch := cursor.fetchmany(chunk_size):
            for row in batch:
                row = list(row)
                if row[-1] is None:  # rebuilt from the columns: both JSON columns needed
                    row[details] = loads(row[details])
                # `details` (jsonb) is a query aid only once the canonical body is stored.
                row[commitments] = {} if row[commitments] == "{}" else loads(row[commitments])
                yield row


def _compare_with_trail(findings: StreamFindings, known: set[tuple[int, str]]) -> None:
    """Every fork the portal's own trail recorded must still be an incident row.

    Read from the trail events' canonical bodies (the hashed bytes, not the jsonb
    query column), so editing the trail to hide a fork breaks the trail's own chain.
    """
    rows = AuditEvent.objects.filter(
        agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID,
        action="integrity.incident",
        resource=f"stream:{findings.stream_id}",
    ).values_list("seq", "canonical")
    for trail_seq, canonical in rows:
        if canonical is None:
            continue
        detail = orjson.loads(canonical)["details"]
        if detail.get("kind") != "fork" or (detail["seq"], detail["offered_hash"]) in known:
            continue
        findings.broke(
            detail["seq"],
            None,
            f"the fork at seq {detail['seq']} (offered {detail['offered_hash'][:12]}…), "
            f"recorded on the portal's trail at seq {trail_seq}, is gone from the incident "
            "table: the incident was deleted",
        )
        if len(findings.forks) < MAX_LISTED:
            findings.forks.append(
                {
                    "seq": detail["seq"],
                    "stored_hash": detail["stored_hash"],
                    "offered_hash": detail["offered_hash"],
                    "detected_at": None,
                    "trail_seq": trail_seq,
                }
            )


def _report_waiting(findings: StreamFindings, stream: Stream | None) -> None:
    """Events received but not admitted keep a stream from being called verified."""
    if stream is None:
        return
    if stream.status == Stream.Status.STALLED:
        findings.wait(
            stream.head_seq + 1,
            "a batch of this stream could not be admitted (dead letter 'admission_failed'): "
            "the stream does not move until it is looked at",
        )
    if stream.pending_count:
        waiting = PendingEvent.objects.filter(stream_id=stream.pk).aggregate(
            first=Min("seq"), count=Count("id")
        )
        if waiting["count"]:
            first_missing, first_waiting = stream.head_seq + 1, waiting["first"]
            missing = (
                f"seq {first_missing}"
                if first_waiting - 1 == first_missing
                else f"seq {first_missing}..{first_waiting - 1}"
            )
            findings.wait(
                first_missing,
                f"{waiting['count']} event(s) from seq {first_waiting} on wait, not admitted: "
                f"{missing} never arrived",
            )


def _checked_body(stream_id: str, row: list, canonical: str) -> tuple[dict | None, list[str]]:
    """The canonical body parsed, and the columns that no longer hold what it says."""
    try:
        body = orjson.loads(canonical)
    except orjson.JSONDecodeError:
        return None, ["canonical"]
    columns = _hashed_body(stream_id, row)
    altered = [name for name in _CHECKED_COLUMNS if body.get(name) != columns[name]]
    if body.get("stream") != stream_id:
        altered.append("stream")
    return body, altered


def _check_sidecars(
    batch: list[tuple[int, int, str, dict[str, str]]],
    findings: StreamFindings,
    erased_by: dict[tuple[int, str], dict] | None = None,
) -> None:
    """A missing sidecar is an erasure if a signed receipt on the trail names it, else
    tampering; a present one must still open its commitment."""
    erased_by = erased_by or {}
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
                receipt = erased_by.get((seq, name))
                if receipt is None:
                    findings.broke(
                        seq,
                        event_id,
                        f"personal-data sidecar '{name}' is gone and no erasure request "
                        "names it: it was deleted around the portal",
                    )
                elif len(findings.erased) < MAX_LISTED:
                    findings.erased.append(
                        {
                            "seq": seq,
                            "event_id": event_id,
                            "field": name,
                            "request": receipt["request"],
                            "reference": receipt["reference"],
                            "receipt_trail_seq": receipt["trail_seq"],
                        }
                    )
            elif not personal_value_matches(commitment, *entry):
                findings.broke(
                    seq, event_id, f"personal-data sidecar '{name}' does not open its commitment"
                )
