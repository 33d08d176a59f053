"""Verify now: on the trail before it is queued, for officers only, in scope only.

Not transactional: the job is queued on commit, and here the commit callbacks are captured
instead of sent (tests/browser runs the job through a real worker)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from obsportal.ingest.models import AuditEvent, IntegrityIncident, RejectedBatch
from obsportal.integrity.models import VerificationRequest
from obsportal.integrity.verify_now import request_verification, run_request

pytestmark = pytest.mark.django_db


def test_verify_now_is_on_the_trail_before_it_is_queued_and_reports_its_run(
    incidents_made, clients, django_user_model, django_capture_on_commit_callbacks
):
    stream = incidents_made["agent-a"][0]["stream"]
    officer_user = django_user_model.objects.get(username="compliance_officer")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = request_verification(officer_user, stream)
    # Queued only on commit, and by then its trail event is written.
    assert len(queued) == 1 and job.status == "queued"
    run_request(job.pk)  # what the worker's task does (tests/browser runs a real worker)
    job.refresh_from_db()
    [trail] = AuditEvent.objects.filter(
        agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID, action="integrity.verify_requested"
    )
    assert trail.user_id == "compliance_officer"
    assert trail.resource == f"verificationrequest:{job.pk}"
    assert trail.details["stream"] == stream
    assert job.status == "done" and job.run.streams.get().stream_id == stream
    assert job.events_done == 4 and job.run.trigger == "verify-now"
    assert run_request(job.pk).run_id == job.run_id  # a redelivered task changes nothing


def test_verify_now_api_is_for_officers_and_in_scope_only(
    incidents_made, clients, django_capture_on_commit_callbacks
):
    stream_a = incidents_made["agent-a"][0]["stream"]
    stream_b = incidents_made["agent-b"][0]["stream"]
    auditor = clients["auditor"].post(
        "/api/v1/verifications/requests/", {"stream_id": stream_a}, content_type="application/json"
    )
    assert auditor.status_code == 403
    assert Client().post("/api/v1/verifications/requests/").status_code in (401, 403)
    agent = Client(HTTP_AUTHORIZATION=f"Token {incidents_made['agent-a-token']}")
    assert agent.post("/api/v1/verifications/requests/").status_code in (401, 403)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        officer = clients["compliance_officer"].post(
            "/api/v1/verifications/requests/",
            {"stream_id": stream_b},
            content_type="application/json",
        )
    assert len(queued) == 1
    assert officer.status_code == 202 and officer.json()["stream_id"] == stream_b
    assert officer.json()["status"] == "queued"
    run_request(officer.json()["id"])
    detail = clients["compliance_officer"].get(
        f"/api/v1/verifications/requests/{officer.json()['id']}/"
    )
    assert detail.json()["status"] == "done" and detail.json()["run"] is not None
    # The scoped auditor cannot read a request about a stream out of its scope.
    assert (
        clients["scoped_auditor"]
        .get(f"/api/v1/verifications/requests/{officer.json()['id']}/")
        .status_code
        == 404
    )
    assert VerificationRequest.objects.count() == 1
    assert RejectedBatch.objects.count() == 1 and IntegrityIncident.objects.count() == 1


def test_the_api_refuses_what_is_not_a_request(incidents_made, clients):
    officer = clients["compliance_officer"]
    url = "/api/v1/verifications/requests/"
    posted = officer.post(url, "null", content_type="application/json")
    assert posted.status_code == 400
    assert officer.get("/api/v1/dead-letters/", {"until": ""}).status_code == 400
    assert not VerificationRequest.objects.exists()
    assert officer.post(url, {"stream_id": "x"}).status_code == 415  # multipart: JSON only
    for path, name in (("/api/v1/incidents/", "kind"), ("/api/v1/streams/", "state")):
        assert officer.get(path, {name: ""}).status_code == 400
