"""Incidents are evidence: forks, checkpoint incidents and verification results are events of
the portal's own hash-chained trail, so deleting an incident row is detected and located."""

from __future__ import annotations

import shutil

import orjson
import pytest
from django.conf import settings

from agents_sdk.audit.chain import compute_hash, hashed_body
from obsportal.ingest.models import AuditEvent, IntegrityIncident
from obsportal.ingest.services import admit_batch
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.verification import verify_streams
from obsportal.trail.services import flush_trail
from tests.factories import tampered
from tests.support.chains import superuser_sql


def trail_events(action: str) -> list[dict]:
    flush_trail()  # the trail's background copy is stored
    rows = AuditEvent.objects.filter(
        agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID, action=action
    ).order_by("seq")
    return [orjson.loads(row.canonical) for row in rows]


@pytest.fixture
def forked(two_chains):
    original = two_chains["a"][4]
    fork = tampered(original, event_id="01900000-0000-7000-8000-0000000000f1", result="denied")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    assert admit_batch({"token": two_chains["token"], "events": [fork]}).forks == 1
    return original, fork


def test_a_fork_is_an_event_of_the_portals_trail(forked):
    original, fork = forked
    [event] = trail_events("integrity.incident")
    assert event["result"] == "failure" and event["resource"] == f"stream:{original['stream']}"
    assert event["details"] == {
        "kind": "fork",
        "stream": original["stream"],
        "seq": 4,
        "stored_hash": original["hash"],
        "offered_hash": fork["hash"],
    }


def test_a_deleted_fork_incident_and_a_reset_stream_are_still_reported(forked):
    original, fork = forked
    superuser_sql(
        ("DELETE FROM ingest_integrityincident", ()),
        ("UPDATE ingest_stream SET status = 'ok' WHERE id = %s", (original["stream"],)),
    )
    assert not IntegrityIncident.objects.exists()
    result = verify_streams().streams.get(stream_id=original["stream"])
    assert result.status == "broken"
    trail_seq = AuditEvent.objects.get(action="integrity.incident").seq
    assert result.first_break["reason"] == (
        f"the fork at seq 4 (offered {fork['hash'][:12]}…), recorded on the portal's trail at "
        f"seq {trail_seq}, is gone from the incident table: the incident was deleted"
    )
    assert [f["seq"] for f in result.forks] == [4]


def test_checkpoint_incidents_and_verification_results_are_on_the_trail(two_chains):
    superuser_sql(("DELETE FROM integrity_checkpoint", ()))
    shutil.rmtree(settings.OBSPORTAL_CHECKPOINT_DIR)
    sign_checkpoint()
    incidents = [e["details"] for e in trail_events("integrity.incident")]
    assert incidents and all(d["kind"] == "checkpoint" and d["checkpoint"] == 2 for d in incidents)
    run = verify_streams()
    [result] = trail_events("integrity.verification")
    assert result["resource"] == f"run:{run.pk}" and result["result"] == "failure"
    assert result["details"]["status"] == "problems"
