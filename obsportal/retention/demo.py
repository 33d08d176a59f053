"""The demo's retention: a policy, a legal hold, a dry run and a run approved by a second
person, over the scripted agent's stream. Made to run again: each step reuses what an
earlier run made.

The demo's events are minutes old, so its plan uses a simulated clock two days ahead
(recorded on the trail as such): the 1-day policy then lets everything go that no hold
keeps. The hold keeps the whole scripted agent's stream (a customer complaint), so what
goes is the start of the portal's own trail, a target like any other; both streams
verify afterwards, the trail as "pruned 0..N by policy P on D".
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from obsportal.ingest.models import Stream
from obsportal.retention.models import LegalHold, RetentionPlan, RetentionPolicy
from obsportal.retention.services import legal_holds, plans, policies, runs

POLICY = "Demo: everything, 1 day"
HOLD = "Demo: complaint 2026-114"


def ensure_retention_demo(agent_id: str, author: str, approver: str) -> list[str]:
    """Set up (or reuse) the demo's retention; the lines to print."""
    users = get_user_model().objects
    officer, admin = users.get(username=author), users.get(username=approver)
    stream = Stream.objects.filter(agent_id=agent_id).order_by("created_at").first()
    if stream is None:
        return ["Retention demo skipped: the demo agent has no stream"]
    lines = []
    policy = RetentionPolicy.objects.filter(name=POLICY).first()
    if policy is None:
        change = policies.request_policy(
            officer,
            name=POLICY,
            framework="custom",
            agent_pattern="*",
            keep_days=1,
            reason="demo",
        )
        policies.approve_policy_change(admin, change)
        lines.append(f"Retention policy '{POLICY}' requested by {author}, approved by {approver}")
    if not LegalHold.objects.filter(name=HOLD, released_at=None).exists():
        legal_holds.place_legal_hold(
            officer,
            name=HOLD,
            reason="customer complaint: keep every action of the support agent",
            agents=[agent_id],
        )
        lines.append(f"Legal hold '{HOLD}' placed by {author} on {agent_id}")
    if not RetentionPlan.objects.filter(status=RetentionPlan.Status.EXECUTED).exists():
        plan = plans.propose_plan(
            officer,
            as_of=timezone.now() + timedelta(days=2),
            simulated_clock=True,
            note="demo (simulated clock, two days ahead)",
        )
        report = plan.report
        lines.append(
            f"Dry run: {report['events']} events would go in {report['streams']} stream(s)"
        )
        for hold in report["holds"]:
            lines.append(
                f"  legal hold {hold['hold']} ({hold['name']}) keeps {hold['events']} events"
            )
        plans.approve_plan(admin, plan)
        outcome = runs.run_plan(plan, user=admin, via="demo")
        lines.append(
            f"Retention plan {plan.pk} approved by {approver} and run: {outcome.pruned} events "
            f"pruned behind {outcome.anchors} signed anchor(s)"
        )
    else:
        lines.append("Reusing the demo's retention policy, hold and executed plan")
    return lines
