"""Incidents, dead letters, scoped checkpoints and verify now: the selectors and their REST API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.models import VerificationRequest
from obsportal.integrity.verification import verify_streams
from obsportal.integrity.verify_now import request_verification
from obsportal.trail.services import TrailUnavailable
from tests.support.chains import superuser_sql
from tests.support.people import person

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fork_shows_the_stored_original_and_the_refused_candidate(incidents_made, clients):
    officer = clients["compliance_officer"]
    listed = officer.get("/api/v1/incidents/", {"kind": "fork"}).json()["results"]
    assert [(i["kind"], i["stream_id"]) for i in listed] == [
        ("fork", incidents_made["agent-a"][0]["stream"])
    ]
    fork = officer.get(f"/api/v1/incidents/forks/{listed[0]['ref']}/").json()
    original = incidents_made["agent-a"][1]
    assert fork["original"]["hash"] == original["hash"] == fork["stored_hash"]
    assert fork["candidate"]["hash"] == incidents_made["fork"]["hash"] == fork["offered_hash"]
    assert set(fork["differing_fields"]) == {"action", "result", "hash"}
    assert fork["original"]["action"] == "tool_execute" and fork["candidate"]["action"] == (
        "rewritten"
    )


def test_a_gap_is_listed_with_its_missing_range(incidents_made, clients):
    officer = clients["compliance_officer"]
    [gap] = officer.get("/api/v1/incidents/", {"kind": "gap"}).json()["results"]
    assert gap["stream_id"] == incidents_made["agent-b"][0]["stream"]
    assert gap["summary"].startswith("seq 1..1 missing; 2 event(s) waiting")
    page = officer.get(f"/incidents/gaps/{gap['stream_id']}/").content.decode()
    assert 'id="missing-range">1..1<' in page


def test_findings_and_checkpoint_incidents_are_incidents(incidents_made, clients):
    stream = incidents_made["agent-a"][0]["stream"]
    superuser_sql(("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 2", (stream,)))
    verify_streams()
    officer = clients["compliance_officer"]
    findings = officer.get("/api/v1/incidents/", {"kind": "finding"}).json()["results"]
    assert stream in {f["stream_id"] for f in findings}
    # A checkpoint row removed around the guards: the next signing records an incident.
    superuser_sql(
        ("DELETE FROM integrity_checkpointhead", ()),
        ("DELETE FROM integrity_checkpoint", ()),
    )
    sign_checkpoint()
    listed = officer.get("/api/v1/incidents/", {"kind": "checkpoint"}).json()["results"]
    assert listed and "checkpoint" in listed[0]["summary"]
    assert officer.get(f"/incidents/checkpoints/{listed[0]['ref']}/").status_code == 200


def test_dead_letters_list_with_reason_codes_and_their_redacted_sample(incidents_made, clients):
    officer = clients["compliance_officer"]
    listed = officer.get("/api/v1/dead-letters/").json()["results"]
    assert [d["reason_code"] for d in listed] == ["fork"]
    assert officer.get("/api/v1/dead-letters/", {"reason_code": "bad_hash"}).json()["results"] == []
    detail = officer.get(f"/api/v1/dead-letters/{listed[0]['id']}/").json()
    assert detail["sample"] and incidents_made["agent-a-token"] not in str(detail)
    bad = officer.get("/api/v1/dead-letters/", {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.json()


def test_a_scoped_auditor_meets_only_its_streams_checkpoints_and_incidents(
    incidents_made, clients, django_user_model
):
    scoped = clients["scoped_auditor"]  # agent-a only, within a day of now
    stream_a = incidents_made["agent-a"][0]["stream"]
    stream_b = incidents_made["agent-b"][0]["stream"]
    listed = scoped.get("/api/v1/incidents/").json()["results"]
    kinds = {(i["kind"], i["stream_id"]) for i in listed}
    assert kinds == {("fork", stream_a)}
    assert scoped.get("/incidents/gaps/" + stream_b + "/").status_code == 404
    dead = scoped.get("/api/v1/dead-letters/").json()["results"]
    assert {d["agent_id"] for d in dead} == {"agent-a"}
    # A checkpoint with agent-a's head is listed, its page shows agent-a's head only.
    number = incidents_made["checkpoint"].number
    assert [c["number"] for c in scoped.get("/api/v1/checkpoints/").json()["results"]] == [number]
    page = scoped.get(f"/checkpoints/{number}/").content.decode()
    assert stream_a in page and stream_b not in page
    # Scoped to a period that ended before any checkpoint: only the first checkpoint after
    # the period (the one that seals its end) is theirs, not the later ones.
    later = sign_checkpoint().number
    now = datetime.now(UTC)
    old = person(
        django_user_model,
        "old-scope",
        "auditor",
        scope_agents=["agent-a"],
        scope_since=now - timedelta(days=30),
        scope_until=now - timedelta(days=20),
    )
    past = Client()
    past.force_login(old)
    assert [c["number"] for c in past.get("/api/v1/checkpoints/").json()["results"]] == [number]
    assert past.get(f"/api/v1/checkpoints/{later}/").status_code == 404
    assert past.get(f"/api/v1/checkpoints/{later}/note").status_code == 404
    assert past.get(f"/checkpoints/{later}/").status_code == 404
    # Scoped to another agent: the checkpoint naming only a and b is out of reach.
    other = person(django_user_model, "c-only", "auditor", scope_agents=["agent-c"])
    c_client = Client()
    c_client.force_login(other)
    assert c_client.get("/api/v1/checkpoints/").json()["results"] == []
    assert "No checkpoint yet in your scope" in c_client.get("/checkpoints/").content.decode()


def test_verify_now_is_refused_when_the_trail_cannot_record_it(
    incidents_made, clients, django_user_model
):
    stream = incidents_made["agent-a"][0]["stream"]
    officer = django_user_model.objects.get(username="compliance_officer")
    superuser_sql(
        (
            "ALTER TABLE ingest_auditevent ADD CONSTRAINT trail_unwritable"
            " CHECK (agent_id <> 'obsportal') NOT VALID",
            (),
        )
    )
    try:
        with pytest.raises(TrailUnavailable):
            request_verification(officer, stream)
    finally:
        superuser_sql(("ALTER TABLE ingest_auditevent DROP CONSTRAINT trail_unwritable", ()))
    assert not VerificationRequest.objects.exists()  # not made, so never queued
