"""Builders shared by the retention tests: two officers, an active policy, an approved plan."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from obsportal.retention.services import plans, policies
from tests.factories import with_role


def officers():
    User = get_user_model()
    alice = with_role(User.objects.create_user("alice-officer", password="pw-alice-123456"))
    bob = with_role(User.objects.create_user("bob-officer", password="pw-bob-1234567"))
    return alice, bob


def active_policy(author, approver, **values):
    values = {"name": "agents 30 days", "framework": "custom", "keep_days": 30} | values
    change = policies.request_policy(author, reason="test", **values)
    policies.approve_policy_change(approver, change)
    change.policy.refresh_from_db()
    return change.policy


def approved_plan(author, approver, days_ahead: int = 400):
    plan = plans.propose_plan(
        author, as_of=timezone.now() + timedelta(days=days_ahead), simulated_clock=True
    )
    return plans.approve_plan(approver, plan)
