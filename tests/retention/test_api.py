"""The retention API and pages as an attacker meets them: anonymous, a stolen agent token,
an auditor, an officer approving their own plan."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from obsportal.accounts.services import issue_api_token
from obsportal.retention.models import LegalHold, RetentionPlan, RetentionPolicy
from tests.factories import with_role
from tests.retention.helpers import officers

WRITES = [
    ("/api/v1/retention/policies/", {"name": "x", "framework": "custom", "keep_days": 1}),
    ("/api/v1/retention/holds/", {"name": "x", "reason": "r", "agents": ["a"]}),
    ("/api/v1/retention/plans/", {}),
]
READS = [
    "/api/v1/retention/policies/",
    "/api/v1/retention/holds/",
    "/api/v1/retention/plans/",
    "/api/v1/retention/runs/",
    "/api/v1/retention/changes/",
    "/api/v1/retention/dry-run/",
    "/api/v1/retention/floors/",
]


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(user)}")
    return client


@pytest.mark.parametrize("url", READS)
def test_anonymous_reads_nothing(db, url):
    assert APIClient().get(url).status_code in (401, 403)


@pytest.mark.parametrize(("url", "body"), WRITES)
def test_a_stolen_agent_token_changes_nothing(db, agent_token, url, body):
    _, token = agent_token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post(url, body, format="json").status_code in (401, 403)
    assert not RetentionPolicy.objects.exists() and not LegalHold.objects.exists()


@pytest.mark.parametrize(("url", "body"), WRITES)
def test_an_auditor_reads_but_cannot_change(db, django_user_model, url, body):
    auditor = with_role(
        django_user_model.objects.create_user("aud", password="pw-aud-12345678"), "auditor"
    )
    client = client_for(auditor)
    for read in READS:
        assert client.get(read).status_code == 200, read
    assert client.post(url, body, format="json").status_code == 403
    assert not RetentionPolicy.objects.exists() and not RetentionPlan.objects.exists()


def test_an_officer_cannot_approve_their_own_plan_or_policy(db):
    alice, bob = officers()
    as_alice, as_bob = client_for(alice), client_for(bob)
    created = as_alice.post(
        "/api/v1/retention/policies/",
        {"name": "p", "framework": "custom", "keep_days": 30},
        format="json",
    )
    assert created.status_code == 201, created.content
    change = created.json()["id"]
    refused = as_alice.post(f"/api/v1/retention/changes/{change}/approve/")
    assert refused.status_code == 403 and "cannot also approve" in refused.json()["detail"]
    assert as_bob.post(f"/api/v1/retention/changes/{change}/approve/").status_code == 200
    plan = as_alice.post("/api/v1/retention/plans/", {}, format="json").json()["id"]
    assert as_alice.post(f"/api/v1/retention/plans/{plan}/approve/").status_code == 403
    assert RetentionPlan.objects.get(pk=plan).status == "proposed"
    assert as_bob.post(f"/api/v1/retention/plans/{plan}/approve/").json()["status"] == "approved"


def test_a_policy_below_the_floor_is_a_400_naming_the_source(db):
    alice, _ = officers()
    response = client_for(alice).post(
        "/api/v1/retention/policies/",
        {"name": "p", "framework": "hipaa", "keep_days": 365},
        format="json",
    )
    assert response.status_code == 400
    assert "164.316(b)(2)" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/retention/policies/", {"name": 12, "framework": "custom", "keep_days": 1}),
        ("/api/v1/retention/plans/", {"reason": 12}),
    ],
)
def test_a_number_where_the_schema_says_string_is_a_400_and_stores_nothing(db, url, body):
    alice, _ = officers()
    response = client_for(alice).post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert "Not a valid string" in str(response.json())
    assert RetentionPolicy.objects.count() == 0 and RetentionPlan.objects.count() == 0


def test_pages_for_each_role(db, client, django_user_model):
    alice, bob = officers()
    assert client.get("/retention/").status_code == 302  # anonymous: to the login page
    auditor = with_role(
        django_user_model.objects.create_user("aud", password="pw-aud-12345678"), "auditor"
    )
    client.force_login(auditor)
    page = client.get("/retention/")
    assert page.status_code == 200 and b"Statutory floors" in page.content
    assert b"Place the hold" not in page.content
    assert (
        client.post("/retention/holds/", {"name": "x", "reason": "r", "agents": "a"}).status_code
        == 403
    )
    client.force_login(alice)
    placed = client.post("/retention/holds/", {"name": "case", "reason": "r", "agents": "agent-7"})
    assert placed.status_code == 200 and b"Legal hold" in placed.content
    proposed = client.post("/retention/plans/", {"reason": "monthly"})
    assert proposed.status_code == 200 and b"Retention plan" in proposed.content
    plan = RetentionPlan.objects.get()
    assert client.post(f"/retention/plans/{plan.pk}/approve/").status_code == 403
    client.force_login(bob)
    assert client.post(f"/retention/plans/{plan.pk}/approve/").status_code == 200
    assert RetentionPlan.objects.get().status == "approved"


def test_a_hold_placed_by_a_subjects_identifier_keeps_only_its_key_and_covers_their_events(
    db, stored
):
    from obsportal.ingest.models import AuditEvent
    from obsportal.ingest.subjects import subject_key
    from obsportal.retention import holds

    alice, _ = officers()
    response = client_for(alice).post(
        "/api/v1/retention/holds/",
        {"name": "case 7", "reason": "litigation", "subjects": [" BOB "]},
        format="json",
    )
    assert response.status_code == 201, response.content
    key = subject_key("bob")
    assert response.json()["subject_keys"] == [key] and "subjects" not in response.json()
    hold = LegalHold.objects.get()
    stored_row = str(LegalHold.objects.filter(pk=hold.pk).values().get())
    assert "BOB" not in stored_row and "'bob'" not in stored_row
    covered = AuditEvent.objects.filter(holds.hold_q(hold))
    assert sorted(covered.values_list("user_id", flat=True)) == ["bob", "bob"]
    placed = AuditEvent.objects.get(action="hold.place")
    assert "bob" not in placed.canonical.lower().replace(key, "")
