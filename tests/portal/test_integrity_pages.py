"""The integrity pages as each caller meets them: officers, auditors, a scoped auditor, a
stolen agent token, nobody; and a stream named like a page keeps its own page."""

from __future__ import annotations

import pytest
from django.test import Client

from obsportal.ingest.models import IntegrityIncident, RejectedBatch
from obsportal.integrity.models import VerificationRequest
from tests.factories import agent_credential, journal_events
from tests.support.incidents import post_batch

pytestmark = pytest.mark.django_db


def pages(made) -> list[str]:
    fork = IntegrityIncident.objects.get().pk
    letter = RejectedBatch.objects.get().pk
    number = made["checkpoint"].number
    return [
        "/streams/",
        f"/streams/{made['agent-a'][0]['stream']}/",
        "/incidents/",
        f"/incidents/forks/{fork}/",
        f"/incidents/gaps/{made['agent-b'][0]['stream']}/",
        "/checkpoints/",
        f"/checkpoints/{number}/",
        "/dead-letters/",
        f"/dead-letters/{letter}/",
    ]


def test_officers_and_auditors_open_every_page_and_nobody_else_does(incidents_made, clients):
    for url in pages(incidents_made):
        for role in ("administrator", "compliance_officer", "auditor"):
            assert clients[role].get(url).status_code == 200, (role, url)
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
        assert clients["none"].get(url).status_code == 403, url
        assert clients["expired_auditor"].get(url).status_code == 403, url
        stolen = Client(HTTP_AUTHORIZATION=f"Bearer {incidents_made['agent-a-token']}")
        assert stolen.get(url).status_code == 302, url  # an agent token is no login


def test_the_fork_page_shows_both_versions_side_by_side(incidents_made, clients):
    fork = IntegrityIncident.objects.get()
    page = clients["auditor"].get(f"/incidents/forks/{fork.pk}/").content.decode()
    original, candidate = incidents_made["agent-a"][1], incidents_made["fork"]
    assert original["hash"] in page and candidate["hash"] in page
    assert '<tr class="differs"><td>action ≠</td>' in page
    assert "rewritten" in page and "tool_execute" in page


def test_only_officers_may_verify_now(incidents_made, clients):
    stream = incidents_made["agent-a"][0]["stream"]
    assert 'id="verify-now"' not in clients["auditor"].get(f"/streams/{stream}/").content.decode()
    assert clients["auditor"].post("/verifications/", {"stream_id": stream}).status_code == 403
    assert (
        clients["scoped_auditor"].post("/verifications/", {"stream_id": stream}).status_code == 403
    )
    anonymous = Client().post("/verifications/", {"stream_id": stream})
    assert anonymous.status_code == 302
    assert (
        'id="verify-now"'
        in clients["compliance_officer"].get(f"/streams/{stream}/").content.decode()
    )
    assert clients["compliance_officer"].get("/verifications/").status_code == 405
    assert not VerificationRequest.objects.exists()


def test_an_officer_asks_for_a_verification_and_is_shown_it(
    incidents_made, clients, django_capture_on_commit_callbacks
):
    stream = incidents_made["agent-a"][0]["stream"]
    officer = clients["compliance_officer"]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = officer.post("/verifications/", {"stream_id": stream})
    job = VerificationRequest.objects.get()
    assert len(queued) == 1 and response.status_code == 302
    assert response["Location"] == f"/streams/{stream}/?request={job.pk}"
    page = officer.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in page and "queued" in page
    assert officer.post("/verifications/", {"stream_id": "no-such"}).status_code == 404


def test_a_scoped_auditor_meets_nothing_outside_its_scope(incidents_made, clients):
    scoped = clients["scoped_auditor"]  # agent-a only
    stream_b = incidents_made["agent-b"][0]["stream"]
    streams = scoped.get("/streams/").content.decode()
    assert incidents_made["agent-a"][0]["stream"] in streams and stream_b not in streams
    assert scoped.get(f"/streams/{stream_b}/").status_code == 404
    assert scoped.get(f"/incidents/gaps/{stream_b}/").status_code == 404
    assert stream_b not in scoped.get("/incidents/").content.decode()
    assert "agent-b" not in scoped.get("/dead-letters/").content.decode()
    number = incidents_made["checkpoint"].number
    assert stream_b not in scoped.get(f"/checkpoints/{number}/").content.decode()
    # Someone scoped to another agent reaches not even agent-a's fork or dead letter.
    from django.contrib.auth import get_user_model

    from tests.support.people import person

    other = Client()
    other.force_login(person(get_user_model(), "c-only", "auditor", scope_agents=["agent-c"]))
    assert other.get(f"/incidents/forks/{IntegrityIncident.objects.get().pk}/").status_code == 404
    assert other.get(f"/dead-letters/{RejectedBatch.objects.get().pk}/").status_code == 404
    assert other.get(f"/checkpoints/{number}/").status_code == 404


def test_streams_filter_by_state_and_agent(incidents_made, clients):
    officer = clients["compliance_officer"]
    stream_a, stream_b = (
        incidents_made["agent-a"][0]["stream"],
        incidents_made["agent-b"][0]["stream"],
    )
    forked = officer.get("/streams/", {"state": "forked"}).content.decode()
    assert stream_a in forked and stream_b not in forked
    waiting = officer.get("/streams/", {"state": "waiting"}).content.decode()
    assert stream_b in waiting and stream_a not in waiting
    by_agent = officer.get("/streams/", {"agent_id": "agent-b"}).content.decode()
    assert stream_b in by_agent and stream_a not in by_agent
    assert officer.get("/streams/", {"state": "sideways"}).status_code == 400
    api = officer.get("/api/v1/streams/", {"state": "waiting"}).json()["results"]
    assert [s["id"] for s in api] == [stream_b]


def test_a_stream_named_like_a_page_opens_its_own_page(db, tmp_path, clients):
    from agents_sdk.audit.journal import JournalWriter  # noqa: F401 - the writer names streams

    token = agent_credential("agent-e")
    events = journal_events(tmp_path, "agent-e", count=1, name="e.jsonl")
    # Stream ids were not always checked: one named "evidence" must still be reachable.
    from agents_sdk.audit.chain import compute_hash, hashed_body

    event = {k: v for k, v in events[0].items() if k != "pii"}
    event.update(stream="evidence", pii_commitments={})
    event["hash"] = compute_hash(hashed_body(event), event["prev_hash"])
    assert post_batch(Client(), [event], token).status_code == 200
    page = clients["compliance_officer"].get("/streams/evidence/")
    assert page.status_code == 200 and "Stream <code>evidence</code>" in page.content.decode()
    assert clients["compliance_officer"].get("/evidence/").status_code == 200
