"""Retention pages: policies and their four-eyes changes, statutory floors, legal holds,
plans with their dry-run output, and runs. Thin: forms are validated here and handed to
retention's services, which decide and write the trail."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from obsportal.accounts.duties import ApprovalRefused
from obsportal.accounts.permissions import capability_required, has_capability
from obsportal.accounts.roles import Capability
from obsportal.retention.floors import BelowStatutoryFloor, floors
from obsportal.retention.models import (
    Framework,
    LegalHold,
    PolicyChange,
    RetentionPlan,
    RetentionPolicy,
    RetentionRun,
)
from obsportal.retention.services import legal_holds, plans, policies
from obsportal.retention.services.trail import RetentionRefused

SHOWN = 50
REFUSALS = (RetentionRefused, BelowStatutoryFloor, ApprovalRefused)


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=200)
    framework = forms.ChoiceField(choices=Framework.choices)
    agent_pattern = forms.CharField(max_length=200, initial="*")
    action_pattern = forms.CharField(max_length=200, initial="*")
    result_pattern = forms.CharField(max_length=200, initial="*")
    keep_days = forms.IntegerField(min_value=1, max_value=36_500)
    reason = forms.CharField(required=False)


class PolicyChangeForm(forms.Form):
    keep_days = forms.IntegerField(min_value=1, max_value=36_500, required=False)
    delete = forms.BooleanField(required=False)
    reason = forms.CharField(required=False)


class HoldForm(forms.Form):
    name = forms.CharField(max_length=200)
    reason = forms.CharField()
    agents = forms.CharField(required=False, help_text="comma-separated")
    user_ids = forms.CharField(required=False, help_text="comma-separated")
    subjects = forms.CharField(
        required=False,
        label="Data subjects",
        help_text="comma-separated e-mail addresses or user ids: kept as subject keys only",
    )
    subject_keys = forms.CharField(required=False, help_text="comma-separated hex keys")
    streams = forms.CharField(required=False, help_text="comma-separated")
    ts_from = forms.DateTimeField(
        required=False, label="From", help_text="UTC, e.g. 2026-01-01 00:00"
    )
    ts_to = forms.DateTimeField(required=False, label="To", help_text="UTC, inclusive")

    def scope(self) -> dict:
        data = self.cleaned_data

        def listed(name: str) -> list[str]:
            return [v.strip() for v in data[name].split(",") if v.strip()]

        return {
            "agents": listed("agents"),
            "user_ids": listed("user_ids"),
            "subject_keys": listed("subject_keys"),
            "subjects": listed("subjects"),
            "streams": listed("streams"),
            "ts_from": data["ts_from"],
            "ts_to": data["ts_to"],
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False)


def _overview(request: HttpRequest, status: int = 200, **context) -> HttpResponse:
    context.setdefault("policy_form", PolicyForm())
    context.setdefault("hold_form", HoldForm())
    context.update(
        policies=RetentionPolicy.objects.exclude(status=RetentionPolicy.Status.RETIRED),
        changes=PolicyChange.objects.select_related("policy", "requested_by", "decided_by")[:SHOWN],
        floors=sorted(floors().values(), key=lambda f: f.framework),
        holds=LegalHold.objects.select_related("placed_by", "released_by")[:SHOWN],
        plans=RetentionPlan.objects.select_related("created_by", "approved_by")[:SHOWN],
        runs=RetentionRun.objects.all()[:SHOWN],
    )
    context.update(
        perms_manage=has_capability(request.user, Capability.RETENTION_MANAGE),
        perms_holds=has_capability(request.user, Capability.HOLDS_MANAGE),
    )
    return render(request, "portal/retention/overview.html", context, status=status)


def _refused(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _overview(request, 403 if isinstance(exc, ApprovalRefused) else 400, problem=str(exc))


@capability_required(Capability.RETENTION_READ)
def overview(request: HttpRequest) -> HttpResponse:
    return _overview(request)


@capability_required(Capability.RETENTION_READ)
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(
        RetentionPlan.objects.select_related("created_by", "approved_by"), pk=pk
    )
    return render(
        request,
        "portal/retention/plan.html",
        {"plan": plan, "report": plan.report, "runs": plan.runs.all()},
    )


@capability_required(Capability.RETENTION_MANAGE)
@require_POST
def policy_request(request: HttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _overview(request, 400, policy_form=form, problem="The policy is incomplete.")
    values = dict(form.cleaned_data)
    reason = values.pop("reason")
    try:
        policies.request_policy(request.user, reason=reason, **values)
    except REFUSALS as exc:
        return _overview(request, 400, policy_form=form, problem=str(exc))
    return _overview(
        request, notice=f"Policy {values['name']!r} requested: another person approves it."
    )


@capability_required(Capability.RETENTION_MANAGE)
@require_POST
def policy_change(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(RetentionPolicy, pk=pk)
    form = PolicyChangeForm(request.POST)
    if not form.is_valid():
        return _overview(request, 400, problem="The change is incomplete.")
    data = form.cleaned_data
    try:
        if data["delete"]:
            policies.request_policy_deletion(request.user, policy, reason=data["reason"])
        else:
            policies.request_policy_change(
                request.user, policy, reason=data["reason"], keep_days=data["keep_days"]
            )
    except REFUSALS as exc:
        return _refused(request, exc)
    return _overview(request, notice=f"Change of {policy.name!r} requested.")


@capability_required(Capability.RETENTION_MANAGE)
@require_POST
def change_decision(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    change = get_object_or_404(PolicyChange, pk=pk)
    try:
        if decision == "approve":
            policies.approve_policy_change(request.user, change)
        else:
            policies.reject_policy_change(
                request.user, change, reason=request.POST.get("reason", "")
            )
    except REFUSALS as exc:
        return _refused(request, exc)
    return _overview(request, notice=f"Change {change.pk}: {decision}d.")


@capability_required(Capability.HOLDS_MANAGE)
@require_POST
def hold_place(request: HttpRequest) -> HttpResponse:
    form = HoldForm(request.POST)
    if not form.is_valid():
        return _overview(request, 400, hold_form=form, problem="The hold is incomplete.")
    try:
        hold = legal_holds.place_legal_hold(
            request.user,
            name=form.cleaned_data["name"],
            reason=form.cleaned_data["reason"],
            **form.scope(),
        )
    except REFUSALS as exc:
        return _overview(request, 400, hold_form=form, problem=str(exc))
    return _overview(request, notice=f"Legal hold {hold.pk} placed.")


@capability_required(Capability.HOLDS_MANAGE)
@require_POST
def hold_release(request: HttpRequest, pk: int) -> HttpResponse:
    hold = get_object_or_404(LegalHold, pk=pk)
    try:
        legal_holds.release_legal_hold(request.user, hold, reason=request.POST.get("reason", ""))
    except REFUSALS as exc:
        return _refused(request, exc)
    return _overview(request, notice=f"Legal hold {hold.pk} released.")


@capability_required(Capability.RETENTION_MANAGE)
@require_POST
def plan_propose(request: HttpRequest) -> HttpResponse:
    try:
        plan = plans.propose_plan(request.user, note=request.POST.get("reason", ""))
    except REFUSALS as exc:
        return _refused(request, exc)
    return plan_detail(request, plan.pk)


@capability_required(Capability.RETENTION_MANAGE)
@require_POST
def plan_decision(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    plan = get_object_or_404(RetentionPlan, pk=pk)
    try:
        if decision == "approve":
            plans.approve_plan(request.user, plan)
        else:
            plans.reject_plan(request.user, plan, reason=request.POST.get("reason", ""))
    except REFUSALS as exc:
        return _refused(request, exc)
    return _overview(request, notice=f"Plan {plan.pk}: {decision}d.")
