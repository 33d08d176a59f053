"""Roles, accounts and agent credentials change only through the services, each on the trail."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from obsportal.accounts.duties import ApprovalRefused, ensure_separate_approver
from obsportal.accounts.models import AgentCredential
from obsportal.accounts.permissions import has_capability
from obsportal.accounts.roles import ROLE_CAPABILITIES, Capability, Role
from obsportal.accounts.services import (
    AccountChangeRefused,
    InvalidIngestToken,
    agent_for_token,
    assign_role,
    deactivate_user,
    issue_agent_credential,
    revoke_agent_credential,
    rotate_agent_credential,
)
from obsportal.ingest.models import AuditEvent
from obsportal.trail.services import flush_trail
from tests.support.people import PASSWORD, person

pytestmark = pytest.mark.django_db


def trail_actions() -> list[tuple[str, str | None, str | None]]:
    flush_trail()  # the trail's background copy is stored
    rows = AuditEvent.objects.filter(agent_id="obsportal").order_by("seq")
    return [(e.action, e.user_id, e.resource) for e in rows]


def test_the_table_keeps_auditors_read_only_and_agents_ingest_only():
    writes = {
        Capability.RETENTION_MANAGE,
        Capability.HOLDS_MANAGE,
        Capability.SUBJECTS_ERASE,
        Capability.USERS_MANAGE,
        Capability.CREDENTIALS_MANAGE,
        Capability.INGEST_WRITE,
    }
    assert not ROLE_CAPABILITIES[Role.AUDITOR] & writes
    assert ROLE_CAPABILITIES[Role.AGENT] == {Capability.INGEST_WRITE}
    assert Capability.SUBJECTS_ERASE not in ROLE_CAPABILITIES[Role.ADMINISTRATOR]


def test_create_portal_user_reads_the_password_from_stdin_or_prints_a_generated_one(
    monkeypatch, django_user_model
):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase 42\n"))
    call_command(
        "create_portal_user",
        "ada",
        "--role",
        "administrator",
        "--password-stdin",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert Client().login(username="ada", password="a long enough passphrase 42")

    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_portal_user",
        "aud",
        "--role",
        "auditor",
        "--agents",
        "agent-a",
        "--expires",
        "2099-01-01T00:00Z",
        stdout=out,
        stderr=err,
    )
    password = out.getvalue().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", password) and "shown once" in err.getvalue()
    assert Client().login(username="aud", password=password)
    aud = django_user_model.objects.get(username="aud")
    assert aud.role_assignment.scope_agents == ["agent-a"]
    with pytest.raises(CommandError, match="already a user"):
        call_command("create_portal_user", "aud", "--role", "auditor", stdout=out, stderr=err)
    changes = [a for a, _, _ in trail_actions() if not a.startswith("auth.")]
    assert changes == ["user.create", "role.assign"] * 2


def test_role_rules_scope_self_change_and_the_last_administrator(django_user_model):
    admin = person(django_user_model, "ada", None)
    assign_role(admin, "administrator")
    other = person(django_user_model, "bob", None)
    with pytest.raises(AccountChangeRefused, match="only an auditor"):
        assign_role(other, "compliance_officer", by=admin, scope_agents=["a"])
    with pytest.raises(AccountChangeRefused, match="cannot hold the agent role"):
        assign_role(other, "agent", by=admin)
    with pytest.raises(AccountChangeRefused, match="own role"):
        assign_role(admin, "auditor", by=admin)
    with pytest.raises(AccountChangeRefused, match="at least one active administrator"):
        assign_role(admin, "auditor")
    assign_role(other, "auditor", by=admin, scope_agents=["agent-a"])
    assert has_capability(other, Capability.EVENTS_READ)
    assert not has_capability(other, Capability.USERS_MANAGE)
    assert trail_actions()[-1] == ("role.assign", "ada", f"user:{other.pk}")


def test_a_deactivated_user_is_signed_out_everywhere(django_user_model):
    admin = person(django_user_model, "ada", "administrator")
    bob = person(django_user_model, "bob", "auditor")
    client = Client()
    assert client.login(username="bob", password=PASSWORD)
    assert client.get("/api/v1/events/").status_code == 200
    deactivate_user(bob, by=admin)
    assert client.get("/api/v1/events/").status_code in (401, 403)  # signed out
    assert not Client().login(username="bob", password=PASSWORD)
    with pytest.raises(AccountChangeRefused, match="own account"):
        deactivate_user(admin, by=admin)
    assert ("user.deactivate", "ada", f"user:{bob.pk}") in trail_actions()


def test_credentials_issue_revoke_rotate_and_last_use(django_user_model):
    admin = person(django_user_model, "ada", "administrator")
    issued = issue_agent_credential("agent-a", "prod", by=admin)
    assert issued.secret not in str(AgentCredential.objects.values())  # only its digest
    assert agent_for_token(issued.secret) == "agent-a"
    issued.credential.refresh_from_db()
    assert issued.credential.last_used_at is not None
    rotated = rotate_agent_credential(issued.credential, by=admin)
    with pytest.raises(InvalidIngestToken):
        agent_for_token(issued.secret)
    assert agent_for_token(rotated.secret) == "agent-a"
    revoke_agent_credential(rotated.credential, by=admin)
    with pytest.raises(InvalidIngestToken):
        agent_for_token(rotated.secret)
    with pytest.raises(AccountChangeRefused, match="already revoked"):
        revoke_agent_credential(rotated.credential, by=admin)
    with pytest.raises(AccountChangeRefused, match="portal's own trail"):
        issue_agent_credential("obsportal", by=admin)
    assert [a for a, _, _ in trail_actions()] == [
        "credential.issue",
        "credential.revoke",
        "credential.issue",
        "credential.rotate",
        "credential.revoke",
    ]


def test_nobody_approves_their_own_destructive_request(django_user_model):
    officer = person(django_user_model, "olga", "compliance_officer")
    second = person(django_user_model, "otto", "compliance_officer")
    auditor = person(django_user_model, "eve", "auditor")
    with pytest.raises(ApprovalRefused, match="cannot also approve"):
        ensure_separate_approver(officer, officer, Capability.SUBJECTS_ERASE)
    with pytest.raises(ApprovalRefused, match=r"does not allow subjects\.erase"):
        ensure_separate_approver(officer, auditor, Capability.SUBJECTS_ERASE)
    ensure_separate_approver(officer, second, Capability.SUBJECTS_ERASE)


def test_the_admin_pages_show_a_new_secret_once_and_record_each_change(django_user_model):
    admin = Client()
    admin.force_login(person(django_user_model, "ada", "administrator"))
    page = admin.post("/people/credentials/issue/", {"agent_id": "agent-z", "label": "ci"})
    secret = re.search(r'id="new-secret">([^<]+)<', page.content.decode()).group(1)
    assert agent_for_token(secret) == "agent-z"
    listing = admin.get("/people/credentials/").content.decode()
    assert secret not in listing and "agent-z" in listing and "live" in listing
    credential = AgentCredential.objects.get(agent_id="agent-z")
    admin.post(f"/people/credentials/{credential.pk}/revoke/")
    assert "revoked" in admin.get("/people/credentials/").content.decode()

    invited = admin.post(
        "/people/invite/", {"username": "newbie", "role": "auditor", "scope_agents": "agent-z"}
    )
    password = re.search(r'id="new-secret">([^<]+)<', invited.content.decode()).group(1)
    assert Client().login(username="newbie", password=password)
    newbie = django_user_model.objects.get(username="newbie")
    admin.post(f"/people/{newbie.pk}/role/", {"role": "compliance_officer"})
    newbie.role_assignment.refresh_from_db()
    assert newbie.role_assignment.role == "compliance_officer"
    refused = admin.post(f"/people/{newbie.pk}/role/", {"role": "auditor", "scope_agents": ""})
    assert refused.status_code == 200
    officer = Client()
    officer.force_login(newbie)
    assert officer.get("/people/").status_code == 403
    assert officer.get("/people/credentials/").status_code == 403
    actions = [a for a, user, _ in trail_actions() if user == "ada"]
    assert (
        actions[:3] == ["auth.login", "credential.issue", "credentials.view"]
        or "credential.issue" in actions
    )
    for change in ("credential.issue", "credential.revoke", "user.create", "role.assign"):
        assert change in actions
