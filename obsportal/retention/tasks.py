"""Celery beat jobs of retention (thin shells around services)."""

from __future__ import annotations

from celery import shared_task

from obsportal.retention.models import RetentionPlan
from obsportal.retention.services import plans, runs
from obsportal.retention.services.trail import RetentionRefused


# Acknowledged on receipt: a run can outlast the broker's visibility timeout, and a run
# lost with its worker resumes from its last anchor at the next beat.
@shared_task(name="obsportal.retention.tasks.run_approved_plans", acks_late=False)
def run_approved_plans() -> dict:
    done = []
    for plan in plans.approved_plans_to_run():
        try:
            outcome = runs.run_plan(plan, via="schedule")
        except RetentionRefused as exc:
            done.append({"plan": plan.pk, "refused": str(exc)})
            continue
        done.append({"plan": plan.pk, "run": outcome.run.pk, "pruned": outcome.pruned})
    return {"plans": done}


@shared_task(name="obsportal.retention.tasks.propose_plan", acks_late=False)
def propose_plan() -> dict:
    """A daily dry run frozen as a plan, for a person to approve (the machine proposes,
    a person approves: four eyes over policies that four eyes approved)."""
    if RetentionPlan.objects.filter(status=RetentionPlan.Status.PROPOSED).exists():
        return {"proposed": None, "reason": "a proposed plan awaits approval"}
    report = plans.dry_run()
    if not report["events"]:
        return {"proposed": None, "reason": "nothing to prune"}
    plan = plans.propose_plan(None, note="proposed by the schedule")
    return {"proposed": plan.pk, "events": plan.report["events"]}
