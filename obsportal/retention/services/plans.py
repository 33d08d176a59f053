"""Retention plans: a dry run frozen for another person to approve, the four eyes over a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from obsportal.accounts.duties import ensure_separate_approver
from obsportal.accounts.roles import Capability
from obsportal.retention.models import RetentionPlan
from obsportal.retention.selectors import Rules, dry_run_report, prunable_ranges
from obsportal.retention.services.trail import RetentionRefused, actor_name, record_trail, via


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
                "via": via(user),
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
            details={"via": via(approver), "events": plan.report.get("events", 0)},
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
            details={"via": via(user), "reason": reason},
        )
    return plan


def approved_plans_to_run() -> list[RetentionPlan]:
    return list(RetentionPlan.objects.filter(status=RetentionPlan.Status.APPROVED).order_by("id"))
