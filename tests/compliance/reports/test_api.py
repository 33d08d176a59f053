"""The reports API and pages: behind reports.run, on the trail (each run and each download),
a scoped auditor sees only their own runs; an anonymous client or an agent's token nothing."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from obsportal.accounts.services import issue_api_token
from obsportal.compliance.reports.models import ReportRun
from tests.factories import agent_credential, with_role
from tests.support.trail import trail


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(user)}")
    return client


PERIOD = {"framework": "soc2", "since": "2026-07-01T00:00:00Z", "until": "2026-10-01T00:00:00Z"}


@pytest.mark.django_db
def test_anonymous_and_an_agent_token_are_refused(client):
    assert APIClient().get("/api/v1/reports/").status_code in (401, 403)
    stolen = agent_credential("agent-x")
    response = APIClient().get("/api/v1/reports/", HTTP_AUTHORIZATION=f"Token {stolen}")
    assert response.status_code == 401
    assert client.get("/reports/").status_code == 302  # to the login page


@pytest.mark.django_db
def test_a_person_without_a_role_is_refused(django_user_model):
    nobody = django_user_model.objects.create_user("nobody")
    assert token_client(nobody).get("/api/v1/reports/").status_code == 403


@pytest.mark.django_db
def test_requesting_a_run_records_it_once_on_the_trail(django_user_model):
    auditor = with_role(django_user_model.objects.create_user("aud"), "auditor")
    response = token_client(auditor).post(
        "/api/v1/reports/", {**PERIOD, "seed": "s1"}, format="json"
    )
    assert response.status_code == 202, response.content
    run = ReportRun.objects.get(pk=response.json()["id"])
    assert (run.framework, run.seed, run.status, run.trigger) == ("soc2", "s1", "queued", "api")
    [event] = trail("report.run")
    assert event.user_id == "aud" and event.resource == f"reportrun:{run.pk}"
    assert event.details["seed"] == "s1" and event.details["framework"] == "soc2"
    assert not trail("reports.view")  # the change covers the request: no second event


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**PERIOD, "framework": "iso9001"}, "framework"),
        ({**PERIOD, "until": PERIOD["since"]}, "until"),
        ({**PERIOD, "since": "2026-99-01T00:00:00Z"}, "since"),
        ({"framework": "soc2"}, "since"),
    ],
)
def test_a_request_that_makes_no_report_is_a_400_with_the_field(django_user_model, body, field):
    officer = with_role(django_user_model.objects.create_user("off"), "compliance_officer")
    response = token_client(officer).post("/api/v1/reports/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not ReportRun.objects.exists()


@pytest.mark.django_db
def test_a_scoped_auditor_sees_only_their_own_runs(django_user_model):
    admin = with_role(django_user_model.objects.create_user("adm"), "administrator")
    scoped = with_role(
        django_user_model.objects.create_user("ext"), "auditor", scope_agents=["agent-a"]
    )
    theirs = token_client(admin).post("/api/v1/reports/", PERIOD, format="json").json()["id"]
    mine = token_client(scoped).post("/api/v1/reports/", PERIOD, format="json").json()["id"]
    client = token_client(scoped)
    assert [r["id"] for r in client.get("/api/v1/reports/").json()] == [mine]
    assert client.get(f"/api/v1/reports/{theirs}/").status_code == 404
    assert token_client(admin).get(f"/api/v1/reports/{mine}/").status_code == 200


@pytest.mark.django_db
def test_frameworks_list_their_sections_and_controls(django_user_model):
    auditor = with_role(django_user_model.objects.create_user("aud"), "auditor")
    frameworks = {
        f["key"]: f for f in token_client(auditor).get("/api/v1/reports/frameworks/").json()
    }
    assert set(frameworks) == {"soc2", "gdpr", "hipaa", "ai_act"}
    controls = {c for s in frameworks["soc2"]["sections"] for c in s["controls"]}
    assert {
        "SOC 2 CC6.1",
        "SOC 2 CC6.6",
        "SOC 2 CC7.2",
        "SOC 2 CC8.1",
        "HIPAA 164.312(b)",
    } <= controls


def test_a_download_is_on_the_trail_with_its_digest(built):
    client = token_client(built.admin)
    run = built.run
    detail = client.get(f"/api/v1/reports/{run.pk}/").json()
    assert detail["status"] == "done" and detail["progress"] == 100
    response = client.get(f"/api/v1/reports/{run.pk}/files/report.json")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == run.report_sha256
    [event] = trail("report.download")
    assert event.details["sha256"] == run.report_sha256 and event.details["file"] == "report.json"
    assert client.get(f"/api/v1/reports/{run.pk}/files/..%2F..%2Fsecret").status_code == 404


def test_the_pages_list_run_and_show_a_report(built, client):
    client.force_login(built.admin)
    assert b"Compliance reports" in client.get("/reports/").content
    page = client.get(f"/reports/{built.run.pk}/")
    assert page.status_code == 200
    assert b"Chain coverage of the period" in page.content and b"report.json" in page.content
    download = client.get(f"/reports/{built.run.pk}/files/report.html")
    assert download.status_code == 200
    response = client.post("/reports/new/", {**PERIOD, "seed": "p1"})
    assert response.status_code == 302
    assert ReportRun.objects.filter(seed="p1", trigger="portal").exists()
    assert client.post("/reports/new/", {**PERIOD, "until": "nope"}).status_code == 400
