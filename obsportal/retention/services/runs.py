"""Executing an approved retention plan.

The run (`run_plan`) keeps these invariants (Zulip's retention module is the model):
- it executes an approved plan only, and never prunes more of a stream than the plan
  froze nor anything the rules in force now keep (a hold placed since, a policy
  lengthened since);
- it cuts each stream at its start: chunk after chunk from the last anchor on;
- each chunk is one transaction: sign and store the prune anchor, record it on the
  trail, delete through the database door (`ingest.audit_door.prune_events`), note the
  progress. A kill at any point loses the whole chunk or nothing, so a rerun resumes
  from the last anchor: never an anchor lost, never a seq pruned twice;
- it holds at most one chunk's aggregates in memory, never the rows;
- on PostgreSQL a month the plan empties whole goes first, as one partition dropped
  behind its anchors in one transaction (months.py); the chunks take over from there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from obsportal.ingest.audit_door import prune_events
from obsportal.ingest.models import AuditEvent, Stream
from obsportal.integrity.anchors import lock_stream_anchors, pruned_through
from obsportal.retention.models import RetentionPlan, RetentionRun
from obsportal.retention.selectors import Rules, stream_range
from obsportal.retention.services.anchoring import anchor_pruned_range
from obsportal.retention.services.months import prune_whole_months
from obsportal.retention.services.trail import RetentionRefused, actor_name, record_trail

Progress = Callable[[str], None]


@dataclass
class RunOutcome:
    run: RetentionRun
    pruned: int
    anchors: int


def run_plan(
    plan: RetentionPlan,
    *,
    user: Any = None,
    via: str = "command line",
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Execute an approved plan, resuming where a killed run stopped (see the module's
    invariants). Running an executed plan again prunes nothing."""
    say = progress or (lambda message: None)
    chunk_size = chunk_size or settings.OBSPORTAL_RETENTION_CHUNK
    with _plan_lock(plan.pk):
        return _run_plan(plan, user, via, chunk_size, say)


# A run holds this session-level advisory lock (with its plan's id): a second process
# asked to run the same plan is refused, and a killed run's lock goes with its connection.
RUN_LOCK = 0x0B5C_4E7E


@contextmanager
def _plan_lock(plan_id: int) -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK, plan_id])
        if not cursor.fetchone()[0]:
            raise RetentionRefused(f"plan {plan_id} is being run by another process")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK, plan_id])


def _run_plan(
    plan: RetentionPlan, user: Any, via: str, chunk_size: int, say: Progress
) -> RunOutcome:
    plan = RetentionPlan.objects.get(pk=plan.pk)
    if plan.status not in (RetentionPlan.Status.APPROVED, RetentionPlan.Status.EXECUTED):
        raise RetentionRefused(f"plan {plan.pk} is {plan.status}: only an approved plan runs")
    if plan.approved_by_id is None or plan.approved_by_id == plan.created_by_id:
        raise RetentionRefused(f"plan {plan.pk} has no approval by a second person")
    run = RetentionRun.objects.filter(
        plan=plan, status=RetentionRun.Status.RUNNING
    ).first() or RetentionRun.objects.create(plan=plan, started_by=user, via=via)
    run.progress = {**run.progress, "pid": os.getpid()}
    run.heartbeat_at = timezone.now()
    run.save(update_fields=["progress", "heartbeat_at"])
    with transaction.atomic():
        record_trail(
            "retention.run",
            actor=actor_name(user),
            resource=f"retentionrun:{run.pk}",
            details={"via": via, "plan": plan.pk, "phase": "start", "resumed": run.pruned > 0},
        )
    rules = Rules.now(plan.as_of)  # the plan's moment, today's policies and holds
    try:
        for frozen in plan.report.get("ranges", []):
            if frozen["held"] and frozen["last_seq"] < frozen["first_seq"]:
                # Nothing of the stream may go: the plan itself stopped at a hold.
                _note_skipped(run, frozen["stream"], frozen["held"], frozen["last_seq"])
        prune_whole_months(run, plan, rules, say)
        for item in plan.items:
            _run_item(run, plan, rules, item, chunk_size, say)
    except Exception as exc:
        RetentionRun.objects.filter(pk=run.pk).update(
            status=RetentionRun.Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        raise
    run.refresh_from_db()
    with transaction.atomic():
        run.status, run.finished_at = RetentionRun.Status.DONE, timezone.now()
        run.save(update_fields=["status", "finished_at"])
        RetentionPlan.objects.filter(pk=plan.pk).update(status=RetentionPlan.Status.EXECUTED)
        record_trail(
            "retention.run",
            actor=actor_name(user),
            resource=f"retentionrun:{run.pk}",
            details={
                "via": via,
                "plan": plan.pk,
                "phase": "done",
                "pruned": run.pruned,
                "anchors": run.anchors,
                "skipped": run.skipped,
            },
        )
    say(f"run {run.pk} of plan {plan.pk}: {run.pruned} events pruned, {run.anchors} anchors")
    return RunOutcome(run, run.pruned, run.anchors)


def _run_item(
    run: RetentionRun,
    plan: RetentionPlan,
    rules: Rules,
    item: dict[str, Any],
    chunk_size: int,
    say: Progress,
) -> None:
    stream = item["stream"]
    start = pruned_through(stream) + 1
    planned_last = int(item["last_seq"])
    if start > planned_last:
        say(f"{stream}: pruned through {planned_last} already")
        return
    agent_id = Stream.objects.filter(pk=stream).values_list("agent_id", flat=True).first()
    now_allowed = stream_range(rules, stream, agent_id or "", upto=planned_last, breakdown=False)
    last = min(planned_last, now_allowed.last_seq)
    if now_allowed.held:
        _note_skipped(run, stream, now_allowed.held, planned_last)
    if last < start:
        say(f"{stream}: nothing the rules in force let go ({now_allowed.stop_reason})")
        return
    say(f"{stream}: pruning {start}..{last}")
    while start <= last:
        end = min(start + chunk_size - 1, last)
        _prune_chunk(run, plan, rules, stream, start, end)
        say(f"{stream}: pruned {start}..{end}")
        start = end + 1


def _note_skipped(
    run: RetentionRun, stream: str, held: list[dict[str, Any]], planned_last: int
) -> None:
    entries = [
        {
            "hold": kept["hold"],
            "name": kept["name"],
            "stream": stream,
            "from_seq": kept["first_seq"],
            "events": kept["events"],
            "planned_to": planned_last,
        }
        for kept in held
    ]
    with transaction.atomic():
        current = RetentionRun.objects.select_for_update().get(pk=run.pk)
        known = {(e["hold"], e["stream"]) for e in current.skipped}
        current.skipped = current.skipped + [e for e in entries if (e["hold"], stream) not in known]
        current.save(update_fields=["skipped"])
        run.skipped = current.skipped


def _prune_chunk(
    run: RetentionRun, plan: RetentionPlan, rules: Rules, stream: str, first: int, last: int
) -> None:
    deciding, params = rules.deciding_sql()
    table = AuditEvent._meta.db_table
    with transaction.atomic():
        # Another run may have pruned this stream since: under the stream's anchor lock,
        # start after its newest anchor, or stop if it reached past this chunk.
        lock_stream_anchors(stream)
        first = max(first, pruned_through(stream) + 1)
        if first > last:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {deciding}, count(*) FROM {table} "
                f"WHERE stream_id = %s AND seq BETWEEN %s AND %s GROUP BY 1 ORDER BY 1",
                [*params, stream, first, last],
            )
            by_policy = dict(cursor.fetchall())
            cursor.execute(
                f"SELECT hash FROM {table} WHERE stream_id = %s AND seq = %s", [stream, last]
            )
            row = cursor.fetchone()
        count = sum(by_policy.values())
        if row is None or count != last - first + 1 or None in by_policy:
            raise RetentionRefused(
                f"{stream} is not whole in {first}..{last} ({count} of {last - first + 1} events "
                "stored): verify the stream before pruning it"
            )
        policy = " + ".join(sorted(by_policy))
        now = timezone.now()
        anchor_pruned_range(
            run, plan, stream=stream, first=first, last=last, last_hash=row[0], count=count,
            policy=policy, at=now,
        )  # fmt: skip
        removed = prune_events(stream, first, last)
        if removed != count:
            raise RetentionRefused(f"{stream}: the door removed {removed} of {count} events")
        current = RetentionRun.objects.select_for_update().get(pk=run.pk)
        current.pruned += removed
        current.anchors += 1
        current.heartbeat_at = now
        current.progress = {**current.progress, stream: last}
        current.save(update_fields=["pruned", "anchors", "heartbeat_at", "progress"])
