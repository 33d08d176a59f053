"""Retention at a glance, for the portal's overview (read through the app's config, so the
overview page never imports this app). Small tables only: policies, holds, plans, runs."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from obsportal.queries import counts
from obsportal.retention.models import LegalHold, RetentionPlan, RetentionPolicy, RetentionRun


def overview_status() -> dict[str, Any]:
    counted = counts(  # one round trip
        policies=RetentionPolicy.objects.filter(status=RetentionPolicy.Status.ACTIVE),
        holds=LegalHold.objects.filter(released_at__isnull=True),
        waiting=RetentionPlan.objects.filter(status=RetentionPlan.Status.PROPOSED),
    )
    policies, holds, waiting = counted["policies"], counted["holds"], counted["waiting"]
    last = RetentionRun.objects.order_by("-started_at").first()
    parts = [
        f"{policies} active polic{'y' if policies == 1 else 'ies'}",
        f"{holds} legal hold{'' if holds == 1 else 's'} in force",
    ]
    if waiting:
        parts.append(
            f"{waiting} plan{'' if waiting == 1 else 's'} awaiting a second person's approval"
        )
    if last is None:
        parts.append("no retention run yet")
    else:
        when = (last.finished_at or last.started_at).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(f"last run {last.status} on {when}: {last.pruned} events pruned")
    return {
        "summary": "; ".join(parts),
        "url": reverse("retention:overview"),
        "policies": policies,
        "holds": holds,
        "plans_waiting": waiting,
    }
