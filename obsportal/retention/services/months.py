"""Whole months pruned by dropping their partition (PostgreSQL, ingest migration 0013).

Before a run's chunked deletes (runs.py), each month partition that ended before the plan's
moment is looked at: if every stream with rows in it

- is in the plan and is pruned up to the month already (its first seq there follows its
  last anchor: its rows in older months are gone),
- has its rows there contiguous (first..last, none in another month),
- may go through its last seq there by the rules in force now (no hold, no policy
  lengthened since, the plan's frozen range reaching that far),

then one transaction writes each stream's prune anchor (the same contract: stream,
first..last seq, last hash, count, policy, plan, run, date; on the trail) and drops the
month through the owner role's door (`audit_door.drop_month_partition`), which itself
refuses a month whose rows no anchor explains. A kill loses the whole month or nothing.
Any other month (a partial one, a held stream, the default partition) is left to the
chunked DELETE, which takes over from the anchors written here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from obsportal.ingest.audit_door import drop_month_partition
from obsportal.ingest.models import Stream
from obsportal.ingest.partitions import MonthPartition, is_partitioned, month_partitions
from obsportal.integrity.anchors import lock_stream_anchors, pruned_through
from obsportal.retention.models import RetentionPlan, RetentionRun
from obsportal.retention.selectors import Rules, stream_range
from obsportal.retention.services.anchoring import anchor_pruned_range

TABLE = "ingest_auditevent"
# A month's drop waits this long at most for the table lock (DETACH takes it exclusively,
# so ingestion pauses meanwhile); past it the month is left to the chunked DELETE.
LOCK_TIMEOUT = "10s"


@dataclass
class _InMonth:
    """One stream's rows in one month."""

    first: int
    last: int
    count: int = 0
    policies: dict[Any, int] = field(default_factory=dict)


class _NotWhole(Exception):
    """The month changed between the look and the drop: leave it to the DELETE."""


def prune_whole_months(
    run: RetentionRun, plan: RetentionPlan, rules: Rules, say: Callable[[str], None]
) -> None:
    """Drop each month partition the plan empties whole, oldest first (see the module)."""
    if not is_partitioned():
        return
    planned = {item["stream"]: int(item["last_seq"]) for item in plan.items}
    if not planned:
        return
    for month in month_partitions():
        if month.upper > plan.as_of:
            break
        if _kept_row(month, planned):
            say(f"{month.name}: not whole (it holds events the plan keeps)")
            continue
        streams = _streams_in(rules, month)
        if not streams:
            continue  # nothing stored that month: nothing to anchor, nothing to gain
        why = _not_whole(rules, planned, streams)
        if why:
            say(f"{month.name}: not whole ({why}): its rows are deleted in chunks")
            continue
        try:
            _drop_month(run, plan, month, streams)
        except (_NotWhole, DatabaseError) as exc:
            say(f"{month.name}: not dropped ({exc}): its rows are deleted in chunks")
            continue
        say(f"{month.name}: dropped, {sum(s.count for s in streams.values())} events")


def _kept_row(month: MonthPartition, planned: dict[str, int]) -> bool:
    """Whether the month holds a row the plan does not prune: the first found ends the
    look, so a month that cannot go whole costs a few pages, not a scan of the month."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {TABLE} e"
            " LEFT JOIN unnest(%s::text[], %s::bigint[]) AS p(stream_id, last)"
            " ON p.stream_id = e.stream_id"
            " WHERE e.ts >= %s AND e.ts < %s AND (p.last IS NULL OR e.seq > p.last) LIMIT 1",
            [list(planned), list(planned.values()), month.lower, month.upper],
        )
        return cursor.fetchone() is not None


def _streams_in(rules: Rules, month: MonthPartition) -> dict[str, _InMonth]:
    deciding, params = rules.deciding_sql()
    with connection.cursor() as cursor:
        # Through the parent, bounded by the month: the runtime role reads no partition
        # directly, and the bound prunes the scan to this one.
        cursor.execute(
            f"SELECT stream_id, {deciding}, min(seq), max(seq), count(*) FROM {TABLE}"
            " WHERE ts >= %s AND ts < %s GROUP BY 1, 2",
            [*params, month.lower, month.upper],
        )
        rows = cursor.fetchall()
    streams: dict[str, _InMonth] = {}
    for stream, policy, first, last, count in rows:
        entry = streams.setdefault(stream, _InMonth(first, last))
        entry.first, entry.last = min(entry.first, first), max(entry.last, last)
        entry.count += count
        entry.policies[policy] = entry.policies.get(policy, 0) + count
    return streams


def _not_whole(rules: Rules, planned: dict[str, int], streams: dict[str, _InMonth]) -> str:
    """Why the month cannot go whole ("" if it can)."""
    agents = dict(Stream.objects.filter(pk__in=list(streams)).values_list("id", "agent_id"))
    for stream, rows in sorted(streams.items()):
        if stream not in planned or planned[stream] < rows.last:
            return f"{stream} is kept past seq {min(planned.get(stream, -1), rows.last)}"
        if None in rows.policies:
            return f"{stream} has events no policy covers"
        if rows.count != rows.last - rows.first + 1:
            return f"{stream}'s seqs {rows.first}..{rows.last} are not all in this month"
        if pruned_through(stream) + 1 != rows.first:
            return f"{stream} keeps events older than seq {rows.first}"
        now = stream_range(rules, stream, agents.get(stream, ""), upto=rows.last, breakdown=False)
        if now.last_seq < rows.last:
            return f"{stream} may go only through seq {now.last_seq} now"
    return ""


def _drop_month(
    run: RetentionRun, plan: RetentionPlan, month: MonthPartition, streams: dict[str, _InMonth]
) -> None:
    total = sum(rows.count for rows in streams.values())
    with transaction.atomic():
        for stream in sorted(streams):
            lock_stream_anchors(stream)
            if pruned_through(stream) + 1 != streams[stream].first:
                raise _NotWhole(f"{stream} was pruned meanwhile")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.stream_id, e.hash FROM {TABLE} e"
                " JOIN unnest(%s::text[], %s::bigint[]) AS k(stream_id, seq)"
                " ON e.stream_id = k.stream_id AND e.seq = k.seq"
                " WHERE e.ts >= %s AND e.ts < %s",
                [
                    list(streams),
                    [rows.last for rows in streams.values()],
                    month.lower,
                    month.upper,
                ],
            )
            hashes = dict(cursor.fetchall())
        now = timezone.now()
        for stream, rows in sorted(streams.items()):
            policy = " + ".join(sorted(str(p) for p in rows.policies))
            anchor_pruned_range(
                run, plan, stream=stream, first=rows.first, last=rows.last,
                last_hash=hashes[stream], count=rows.count, policy=policy, at=now,
                partition=month.name,
            )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        removed = drop_month_partition(month.name)
        if removed != total:
            raise _NotWhole(f"the month held {removed} events, not {total}")
        current = RetentionRun.objects.select_for_update().get(pk=run.pk)
        current.pruned += removed
        current.anchors += len(streams)
        current.heartbeat_at = now
        dropped = [*current.progress.get("partitions", []), month.name]
        current.progress = {
            **current.progress,
            **{stream: rows.last for stream, rows in streams.items()},
            "partitions": dropped,
        }
        current.save(update_fields=["pruned", "anchors", "heartbeat_at", "progress"])
