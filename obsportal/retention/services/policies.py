"""Retention policies and their four-eyes changes: a longer period at once, anything that
may let more go only once another person approves it; the statutory floor checked both times."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from obsportal.accounts.duties import ensure_separate_approver
from obsportal.accounts.roles import Capability
from obsportal.retention.floors import check_floor
from obsportal.retention.models import Framework, PolicyChange, RetentionPolicy
from obsportal.retention.services.trail import RetentionRefused, actor_name, record_trail, via

POLICY_FIELDS = ("name", "framework", "description", "agent_pattern", "action_pattern")
POLICY_FIELDS += ("result_pattern", "keep_days")

# A century: longer is "forever", which is what no policy at all means.
MAX_KEEP_DAYS = 36_500


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
            "via": via(user),
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
