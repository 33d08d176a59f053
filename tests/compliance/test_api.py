"""The subject-request API and pages as each caller sees them: anonymous, a stolen agent
token, an administrator, an auditor (reads requests, never the person or their data, never
erases), a compliance officer (everything)."""

from __future__ import annotations

import pytest
from django.test import Client

from obsportal.compliance.models import SubjectRequest
from obsportal.ingest.models import AuditEvent
from obsportal.trail.services import flush_trail, trail_agent_id

LIST = "/api/v1/subject-requests/"


@pytest.fixture
def eager(settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.OBSPORTAL_EXPORT_DIR = tmp_path / "exports"


def _new(client, kind="access", identifier="alice", **more):
    return client.post(
        LIST, {"kind": kind, "identifier": identifier, **more}, content_type="application/json"
    )


def test_anonymous_and_an_agent_token_reach_nothing(two_agents, clients):
    officer = clients["compliance_officer"]
    made = _new(officer, "erasure", legal_ground="Art. 17(1)(a)").json()
    stolen = Client(HTTP_AUTHORIZATION=f"Bearer {two_agents['agent-a-token']}")
    token = Client(HTTP_AUTHORIZATION=f"Token {two_agents['agent-a-token']}")
    for caller in (Client(), stolen, token):
        assert caller.get(LIST).status_code in (401, 403)
        assert _new(caller).status_code in (401, 403)
        assert caller.post(f"{LIST}{made['id']}/erase/").status_code in (401, 403)
        assert caller.get(f"{LIST}{made['id']}/files/json/").status_code in (401, 403)
    assert Client().get("/subjects/").status_code == 302  # to the login page


def test_an_auditor_reads_deadlines_but_not_the_person_and_cannot_act(two_agents, clients):
    officer, auditor = clients["compliance_officer"], clients["auditor"]
    made = _new(officer, "erasure", "alice, alice@example.org", legal_ground="Art. 17(1)(a)")
    assert made.status_code == 201, made.content
    request_id = made.json()["id"]
    listed = auditor.get(LIST).json()["results"]
    assert listed[0]["reference"] == made.json()["reference"]
    assert listed[0]["identifier"] is None and listed[0]["deadline"]
    assert _new(auditor).status_code == 403
    assert auditor.post(f"{LIST}{request_id}/erase/").status_code == 403
    assert (
        auditor.post(
            f"{LIST}{request_id}/extend/", {"reason": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    page = auditor.get(f"/subjects/{request_id}/")
    assert page.status_code == 200 and b"alice" not in page.content
    assert auditor.post(f"/subjects/{request_id}/", {"action": "erase"}).status_code == 403
    assert SubjectRequest.objects.get().status == "received"
    # the attempts are on the trail as denied
    flush_trail()
    denied = AuditEvent.objects.filter(agent_id=trail_agent_id(), result="denied")
    assert "subject.erase_attempt" in set(denied.values_list("action", flat=True))


def test_an_administrator_has_no_subject_rights(two_agents, clients):
    admin = clients["administrator"]
    assert admin.get(LIST).status_code == 403
    assert admin.get("/subjects/").status_code == 403


def test_an_officer_exports_downloads_and_erases(transactional_db, two_agents, clients, eager):
    # transactional: the export is queued on commit and built by the (eager) task
    officer = clients["compliance_officer"]
    access = _new(officer, "access", "alice").json()
    queued = officer.post(f"{LIST}{access['id']}/export/")
    assert queued.status_code == 202
    done = officer.get(f"{LIST}{access['id']}/").json()
    assert done["status"] == "completed" and set(done["files"]) == {"json", "csv", "pdf"}
    pdf = officer.get(f"{LIST}{access['id']}/files/pdf/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    page = officer.get(f"/subjects/{access['id']}/")
    assert b"R-" in page.content and b".pdf" in page.content
    erasure = _new(officer, "erasure", "alice", legal_ground="Art. 17(1)(a)").json()
    # two_agents has no personal data: the receipt says so, with zero counts
    erased = officer.post(f"{LIST}{erasure['id']}/erase/").json()
    assert erased["status"] == "completed"
    assert erased["outcome"]["counts"]["fields_erased"] == 0
    # and its receipt is on the trail all the same
    flush_trail()
    assert (
        AuditEvent.objects.filter(agent_id=trail_agent_id(), action="subject.erasure").count() == 1
    )
    counts = officer.get(f"{LIST}counts/").json()
    assert counts == {"open": 0, "overdue": 0, "due_within_7_days": 0}


def test_the_menu_shows_subject_requests_to_officer_and_auditor_only(two_agents, clients):
    for role, shown in (("compliance_officer", True), ("auditor", True), ("administrator", False)):
        page = clients[role].get("/")
        assert (b'href="/subjects/"' in page.content) is shown, role


def test_an_officer_declares_an_agents_processing_and_replaces_it(two_agents, clients):
    officer, auditor = clients["compliance_officer"], clients["auditor"]
    url = "/api/v1/agent-declarations/"
    body = {
        "agent_id": "agent-a",
        "purposes": ["support"],
        "recipients": ["vendor"],
        "categories": ["contact"],
        "legal_basis": "Art. 6(1)(b)",
    }
    assert officer.post(url, body, content_type="application/json").status_code == 200
    body["purposes"] = ["support", "billing"]
    assert officer.post(url, body, content_type="application/json").status_code == 200
    assert auditor.post(url, body, content_type="application/json").status_code == 403
    assert officer.post(url, "0.5", content_type="application/json").status_code == 400
    listed = auditor.get(url).json()
    assert [d["purposes"] for d in listed] == [["support", "billing"]]
    flush_trail()
    changes = AuditEvent.objects.filter(agent_id=trail_agent_id(), action="declaration.change")
    assert changes.count() == 2
