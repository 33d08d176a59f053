"""Administrators' pages: people with their roles and scopes, agents' ingest credentials.

Thin: each form is validated here and handed to an accounts service, which makes the
change and writes it to the trail in one transaction. A new secret (a generated
password, an ingest token) is rendered in the response to the change and never again.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from obsportal.accounts.models import AgentCredential
from obsportal.accounts.permissions import capability_required
from obsportal.accounts.roles import USER_ROLES, Capability
from obsportal.accounts.services import (
    AccountChangeRefused,
    assign_role,
    create_portal_user,
    deactivate_user,
    issue_agent_credential,
    reactivate_user,
    revoke_agent_credential,
    rotate_agent_credential,
)

ROLE_CHOICES = [(role.value, role.label) for role in USER_ROLES]
CREDENTIALS_SHOWN = 500


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    scope_agents = forms.CharField(
        required=False, help_text="auditor only: agent ids, comma-separated (empty: all)"
    )
    scope_since = forms.DateTimeField(required=False)
    scope_until = forms.DateTimeField(required=False)
    expires_at = forms.DateTimeField(required=False)

    def scope(self) -> dict:
        data = self.cleaned_data
        agents = [a.strip() for a in data["scope_agents"].split(",") if a.strip()]
        return {
            "scope_agents": agents,
            "scope_since": data["scope_since"],
            "scope_until": data["scope_until"],
            "expires_at": data["expires_at"],
        }


class InviteForm(RoleForm):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)


class CredentialForm(forms.Form):
    agent_id = forms.CharField(max_length=200)
    label = forms.CharField(max_length=200, required=False)


def _users_page(request: HttpRequest, status: int = 200, **context) -> HttpResponse:
    people = (
        get_user_model()
        .objects.select_related("role_assignment")
        .order_by("-is_active", "username")
    )
    context.setdefault("invite", InviteForm())
    context["people"] = people
    context["roles"] = ROLE_CHOICES
    return render(request, "portal/people/users.html", context, status=status)


@capability_required(Capability.USERS_MANAGE)
def users(request: HttpRequest) -> HttpResponse:
    return _users_page(request)


@capability_required(Capability.USERS_MANAGE)
@require_POST
def invite_user(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _users_page(request, 400, invite=form, problem="The invitation is incomplete.")
    data = form.cleaned_data
    try:
        user, password = create_portal_user(
            data["username"], data["role"], by=request.user, email=data["email"], **form.scope()
        )
    except (AccountChangeRefused, ValidationError) as exc:
        return _users_page(request, 400, invite=form, problem=_message(exc))
    notice = f"{user.get_username()} can now sign in as {data['role'].replace('_', ' ')}."
    return _users_page(request, notice=notice, secret=password, secret_for=user.get_username())


@capability_required(Capability.USERS_MANAGE)
@require_POST
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _users_page(request, 400, problem="The role change is incomplete.")
    try:
        assign_role(person, form.cleaned_data["role"], by=request.user, **form.scope())
    except AccountChangeRefused as exc:
        return _users_page(request, 400, problem=_message(exc))
    return _users_page(request, notice=f"{person.get_username()}'s role was changed.")


@capability_required(Capability.USERS_MANAGE)
@require_POST
def deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    try:
        deactivate_user(person, by=request.user)
    except AccountChangeRefused as exc:
        return _users_page(request, 400, problem=_message(exc))
    return _users_page(request, notice=f"{person.get_username()} can no longer sign in.")


@capability_required(Capability.USERS_MANAGE)
@require_POST
def reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=pk)
    reactivate_user(person, by=request.user)
    return _users_page(request, notice=f"{person.get_username()} can sign in again.")


def _credentials_page(request: HttpRequest, status: int = 200, **context) -> HttpResponse:
    rows = AgentCredential.objects.select_related("created_by").order_by(
        "revoked_at", "agent_id", "-created_at"
    )
    context.setdefault("form", CredentialForm())
    context["credentials"] = rows[:CREDENTIALS_SHOWN]
    return render(request, "portal/people/credentials.html", context, status=status)


@capability_required(Capability.CREDENTIALS_MANAGE)
def credentials(request: HttpRequest) -> HttpResponse:
    return _credentials_page(request)


@capability_required(Capability.CREDENTIALS_MANAGE)
@require_POST
def issue_credential(request: HttpRequest) -> HttpResponse:
    form = CredentialForm(request.POST)
    if not form.is_valid():
        return _credentials_page(request, 400, form=form, problem="Name the agent.")
    data = form.cleaned_data
    try:
        issued = issue_agent_credential(data["agent_id"], data["label"], by=request.user)
    except AccountChangeRefused as exc:
        return _credentials_page(request, 400, form=form, problem=_message(exc))
    return _credentials_page(request, secret=issued.secret, secret_for=issued.credential)


@capability_required(Capability.CREDENTIALS_MANAGE)
@require_POST
def revoke_credential(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(AgentCredential, pk=pk)
    try:
        revoke_agent_credential(credential, by=request.user)
    except AccountChangeRefused as exc:
        return _credentials_page(request, 400, problem=_message(exc))
    return _credentials_page(request, notice=f"Credential {pk} of {credential.agent_id} revoked.")


@capability_required(Capability.CREDENTIALS_MANAGE)
@require_POST
def rotate_credential(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(AgentCredential, pk=pk)
    try:
        issued = rotate_agent_credential(credential, by=request.user)
    except AccountChangeRefused as exc:
        return _credentials_page(request, 400, problem=_message(exc))
    return _credentials_page(request, secret=issued.secret, secret_for=issued.credential)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "The password was refused: " + " ".join(exc.messages)
    return str(exc)
