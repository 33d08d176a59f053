"""What changes retention's state: policy changes (four eyes), legal holds, plans, runs.

Every change writes its trail record inside its own transaction (`record_trail`): a
change the trail cannot record does not happen.

The run (`run_plan`) keeps these invariants (Zulip's retention module is the model):
- it executes an approved plan only, and never prunes more of a stream than the plan
  froze nor anything the rules in force now keep (a hold placed since, a policy
  lengthened since);
- it cuts each stream at its start: chunk after chunk from the last anchor on;
- each chunk is one transaction: sign and store the prune anchor, record it on the
  trail, delete through the database door (`ingest.audit_door.prune_events`), note the
  progress. A kill at any point loses the whole chunk or nothing, so a rerun resumes
  from the last anchor: never an anchor lost, never a seq pruned twice;
- it holds at most one chunk's aggregates in memory, never the rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from obsportal.accounts.duties import ensure_separate_approver
from obsportal.accounts.roles import Capability
from obsportal.ingest.audit_door import prune_events
from obsportal.ingest.models import AuditEvent, Stream
from obsportal.integrity.anchors import lock_stream_anchors, pruned_through, write_prune_anchor
from obsportal.retention.floors import check_floor
from obsportal.retention.models import (
    Framework,
    LegalHold,
    PolicyChange,
    RetentionPlan,
    RetentionPolicy,
    RetentionRun,
)
from obsportal.retention.selectors import Rules, dry_run_report, prunable_ranges, stream_range

log = logging.getLogger(__name__)

POLICY_FIELDS = ("name", "framework", "description", "agent_pattern", "action_pattern")
POLICY_FIELDS += ("result_pattern", "keep_days")


# The portal's trail, registered by this app's ready() (as accounts' change recorder is):
# so that the pages, which may not reach ingest's write path, can call these services.
_trail: Callable[..., Any] | None = None


def register_trail_recorder(record: Callable[..., Any]) -> None:
    global _trail
    _trail = record


def record_trail(action: str, **fields: Any) -> Any:
    """Write the change's trail event (fail closed: no trail, no change)."""
    if _trail is None:
        raise RuntimeError("the portal's trail recorder is not registered (obsportal.trail)")
    return _trail(action, **fields)


def actor_name(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


# A century: longer is "forever", which is what no policy at all means.
MAX_KEEP_DAYS = 36_500


class RetentionRefused(Exception):
    """A retention request that the rules refuse; the message says which rule."""


def _via(user: Any) -> str:
    return "portal" if user is not None else "command line"


def _policy_values(policy: RetentionPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise RetentionRefused(f"unknown policy field(s): {', '.join(sorted(unknown))}")
    if values.get("framework") not in Framework.values:
        raise RetentionRefused(f"unknown framework {values.get('framework')!r}")
    keep = values.get("keep_days")
    if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= MAX_KEEP_DAYS:
        raise RetentionRefused(f"keep_days must be a whole number of days, 1 to {MAX_KEEP_DAYS}")
    for name in ("agent_pattern", "action_pattern", "result_pattern"):
        if not values.get(name):
            raise RetentionRefused(f"{name} may not be empty (`*` matches everything)")
    check_floor(values["framework"], keep)
    return values


# --- policies ------------------------------------------------------------------------------


def request_policy(user: Any, *, reason: str = "", **values: Any) -> PolicyChange:
    """Propose a new policy; it takes effect once another person approves it."""
    values = _validated(
        {"description": "", "agent_pattern": "*", "action_pattern": "*", "result_pattern": "*"}
        | values
    )
    with transaction.atomic():
        if RetentionPolicy.objects.filter(name=values["name"]).exists():
            raise RetentionRefused(f"a policy named {values['name']!r} exists already")
        policy = RetentionPolicy.objects.create(created_by=user, **values)
        change = PolicyChange.objects.create(
            policy=policy,
            kind=PolicyChange.Kind.CREATE,
            proposed=values,
            reason=reason,
            requested_by=user,
        )
        _trail_change(user, "retention.policy.request", change)
    return change


def request_policy_change(
    user: Any, policy: RetentionPolicy, *, reason: str = "", **values: Any
) -> PolicyChange:
    """Change a policy: a longer period takes effect at once (it only keeps more);
    a shorter one, or other coverage, waits for a second person's approval."""
    if policy.status != RetentionPolicy.Status.ACTIVE:
        raise RetentionRefused(f"policy {policy.name!r} is {policy.status}, not active")
    proposed = _validated(_policy_values(policy) | values)
    changed = {k for k in POLICY_FIELDS if proposed[k] != getattr(policy, k)}
    if not changed:
        raise RetentionRefused("the change changes nothing")
    if changed <= {"keep_days", "description"} and proposed["keep_days"] >= policy.keep_days:
        kind = PolicyChange.Kind.LENGTHEN
    elif proposed["keep_days"] < policy.keep_days:
        kind = PolicyChange.Kind.SHORTEN
    else:
        kind = PolicyChange.Kind.EDIT
    with transaction.atomic():
        change = PolicyChange.objects.create(
            policy=policy, kind=kind, proposed=proposed, reason=reason, requested_by=user
        )
        _trail_change(user, "retention.policy.request", change)
        if kind == PolicyChange.Kind.LENGTHEN:
            _apply(change, user)
    return change


def request_policy_deletion(user: Any, policy: RetentionPolicy, *, reason: str) -> PolicyChange:
    if policy.status != RetentionPolicy.Status.ACTIVE:
        raise RetentionRefused(f"policy {policy.name!r} is {policy.status}, not active")
    with transaction.atomic():
        change = PolicyChange.objects.create(
            policy=policy,
            kind=PolicyChange.Kind.DELETE,
            proposed=_policy_values(policy),
            reason=reason,
            requested_by=user,
        )
        _trail_change(user, "retention.policy.request", change)
    return change


def approve_policy_change(approver: Any, change: PolicyChange) -> PolicyChange:
    """Four eyes: another person with retention.manage approves; the floor is checked again."""
    with transaction.atomic():
        change = PolicyChange.objects.select_for_update().get(pk=change.pk)
        if change.status != PolicyChange.Status.PENDING:
            raise RetentionRefused(f"change {change.pk} is {change.status}, not pending")
        ensure_separate_approver(change.requested_by, approver, Capability.RETENTION_MANAGE)
        if change.kind != PolicyChange.Kind.DELETE:
            check_floor(change.proposed["framework"], change.proposed["keep_days"])
        _apply(change, approver)
        _trail_change(approver, "retention.policy.approve", change)
    return change


def reject_policy_change(user: Any, change: PolicyChange, *, reason: str = "") -> PolicyChange:
    with transaction.atomic():
        change = PolicyChange.objects.select_for_update().get(pk=change.pk)
        if change.status != PolicyChange.Status.PENDING:
            raise RetentionRefused(f"change {change.pk} is {change.status}, not pending")
        change.status, change.decided_by, change.decided_at = "rejected", user, timezone.now()
        change.save()
        if change.kind == PolicyChange.Kind.CREATE:
            RetentionPolicy.objects.filter(pk=change.policy_id).update(
                status=RetentionPolicy.Status.RETIRED
            )
        _trail_change(user, "retention.policy.reject", change, reason=reason)
    return change


def _apply(change: PolicyChange, decided_by: Any) -> None:
    policy = RetentionPolicy.objects.select_for_update().get(pk=change.policy_id)
    if change.kind == PolicyChange.Kind.DELETE:
        policy.status = RetentionPolicy.Status.RETIRED
    else:
        for name in POLICY_FIELDS:
            setattr(policy, name, change.proposed[name])
        policy.status = RetentionPolicy.Status.ACTIVE
    policy.save()
    change.status, change.decided_by, change.decided_at = "approved", decided_by, timezone.now()
    change.save()


def _trail_change(user: Any, action: str, change: PolicyChange, **extra: Any) -> None:
    record_trail(
        action,
        actor=actor_name(user),
        resource=f"retentionpolicy:{change.policy_id}",
        details={
            "via": _via(user),
            "change": change.pk,
            "kind": str(change.kind),
            "status": str(change.status),
            "policy": change.proposed.get("name"),
            "framework": change.proposed.get("framework"),
            "keep_days": change.proposed.get("keep_days"),
            "reason": change.reason,
            **extra,
        },
    )


# --- legal holds ---------------------------------------------------------------------------


def place_legal_hold(
    user: Any,
    *,
    name: str,
    reason: str,
    agents: list[str] | None = None,
    user_ids: list[str] | None = None,
    subject_keys: list[str] | None = None,
    streams: list[str] | None = None,
    ts_from: datetime | None = None,
    ts_to: datetime | None = None,
) -> LegalHold:
    """Hold what the scope covers from pruning and erasure, on the trail. Takes effect at
    once: holding more never needs a second person."""
    scope = {
        "agents": list(agents or []),
        "user_ids": list(user_ids or []),
        "subject_keys": [k.lower() for k in subject_keys or []],
        "streams": list(streams or []),
    }
    if not any(scope.values()) and ts_from is None and ts_to is None:
        raise RetentionRefused(
            "a legal hold needs a scope: agents, users, subjects, streams or a period"
        )
    if not reason.strip() or not name.strip():
        raise RetentionRefused("a legal hold needs a name and a reason")
    with transaction.atomic():
        hold = LegalHold.objects.create(
            name=name,
            reason=reason,
            owner=user,
            placed_by=user,
            ts_from=ts_from,
            ts_to=ts_to,
            **scope,
        )
        # Users and subjects are personal data: in the erasable sidecar, not the hashed body.
        record_trail(
            "hold.place",
            actor=actor_name(user),
            resource=f"legalhold:{hold.pk}",
            details={
                "via": _via(user),
                "name": name,
                "reason": reason,
                "agents": scope["agents"],
                "streams": scope["streams"],
                "users": len(scope["user_ids"]),
                "subjects": len(scope["subject_keys"]),
                "from": ts_from.isoformat() if ts_from else None,
                "to": ts_to.isoformat() if ts_to else None,
            },
            personal={
                "user_ids": scope["user_ids"] or None,
                "subject_keys": scope["subject_keys"] or None,
            },
        )
    return hold


def release_legal_hold(user: Any, hold: LegalHold, *, reason: str) -> LegalHold:
    """Release a hold; what it kept may go at the next approved run. Needs holds.manage;
    the person releasing is on the trail with the reason."""
    if not reason.strip():
        raise RetentionRefused("releasing a legal hold needs a reason")
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            raise RetentionRefused(f"legal hold {hold.pk} was released already")
        hold.released_at, hold.released_by, hold.release_reason = timezone.now(), user, reason
        hold.save()
        record_trail(
            "hold.release",
            actor=actor_name(user),
            resource=f"legalhold:{hold.pk}",
            details={"via": _via(user), "name": hold.name, "reason": reason},
        )
    return hold


# --- plans ---------------------------------------------------------------------------------


def dry_run(as_of: datetime | None = None, streams: list[str] | None = None) -> dict[str, Any]:
    """What a run at `as_of` would remove, per policy, and what holds keep. Reads only."""
    rules = Rules.now(as_of or timezone.now())
    return dry_run_report(rules, prunable_ranges(rules, streams))


def propose_plan(
    user: Any, *, as_of: datetime | None = None, note: str = "", simulated_clock: bool = False
) -> RetentionPlan:
    """Freeze a dry run as a plan for another person to approve, on the trail.

    `as_of` in the future would shorten every period; only a simulated clock (the demo
    and the tests, which have no old events) may ask for it, and the trail says so."""
    now = timezone.now()
    if as_of is not None and as_of > now and not simulated_clock:
        raise RetentionRefused(
            "a plan's moment cannot lie in the future: it would shorten every period"
        )
    rules = Rules.now(as_of or now)
    ranges = prunable_ranges(rules)
    report = dry_run_report(rules, ranges)
    items = [
        {
            "stream": r.stream,
            "first_seq": r.first_seq,
            "last_seq": r.last_seq,
            "last_hash": r.last_hash,
            "count": r.count,
            "policies": r.policies,
            "oldest": r.oldest,
            "newest": r.newest,
        }
        for r in ranges
        if not r.empty
    ]
    with transaction.atomic():
        plan = RetentionPlan.objects.create(
            as_of=rules.as_of, items=items, report=report, note=note, created_by=user
        )
        record_trail(
            "retention.plan.propose",
            actor=actor_name(user),
            resource=f"retentionplan:{plan.pk}",
            details={
                "via": _via(user),
                "as_of": report["as_of"],
                "simulated_clock": simulated_clock,
                "events": report["events"],
                "streams": report["streams"],
                "policies": {p["policy"]: p["events"] for p in report["policies"]},
                "holds": {str(h["hold"]): h["events"] for h in report["holds"]},
            },
        )
    return plan


def approve_plan(approver: Any, plan: RetentionPlan) -> RetentionPlan:
    """Four eyes: the plan's author cannot approve it."""
    with transaction.atomic():
        plan = RetentionPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status != RetentionPlan.Status.PROPOSED:
            raise RetentionRefused(f"plan {plan.pk} is {plan.status}, not proposed")
        ensure_separate_approver(plan.created_by, approver, Capability.RETENTION_MANAGE)
        plan.status, plan.approved_by, plan.approved_at = "approved", approver, timezone.now()
        plan.save()
        record_trail(
            "retention.plan.approve",
            actor=actor_name(approver),
            resource=f"retentionplan:{plan.pk}",
            details={"via": _via(approver), "events": plan.report.get("events", 0)},
        )
    return plan


def reject_plan(user: Any, plan: RetentionPlan, *, reason: str = "") -> RetentionPlan:
    with transaction.atomic():
        plan = RetentionPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status != RetentionPlan.Status.PROPOSED:
            raise RetentionRefused(f"plan {plan.pk} is {plan.status}, not proposed")
        plan.status = RetentionPlan.Status.REJECTED
        plan.save()
        record_trail(
            "retention.plan.reject",
            actor=actor_name(user),
            resource=f"retentionplan:{plan.pk}",
            details={"via": _via(user), "reason": reason},
        )
    return plan


# --- the run -------------------------------------------------------------------------------

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
        anchor = write_prune_anchor(
            stream_id=stream,
            first_seq=first,
            last_seq=last,
            last_hash=row[0],
            count=count,
            policy=policy,
            plan_id=plan.pk,
            run_id=run.pk,
            pruned_at=now,
        )
        record_trail(
            "retention.prune",
            actor=actor_name(run.started_by),
            resource=f"stream:{stream}",
            details={
                "from": first,
                "to": last,
                "hash": row[0],
                "events": count,
                "policy": policy,
                "plan": plan.pk,
                "run": run.pk,
                "anchor": anchor.note_hash,
            },
        )
        removed = prune_events(stream, first, last)
        if removed != count:
            raise RetentionRefused(f"{stream}: the door removed {removed} of {count} events")
        current = RetentionRun.objects.select_for_update().get(pk=run.pk)
        current.pruned += removed
        current.anchors += 1
        current.heartbeat_at = now
        current.progress = {**current.progress, stream: last}
        current.save(update_fields=["pruned", "anchors", "heartbeat_at", "progress"])


def approved_plans_to_run() -> list[RetentionPlan]:
    return list(RetentionPlan.objects.filter(status=RetentionPlan.Status.APPROVED).order_by("id"))
