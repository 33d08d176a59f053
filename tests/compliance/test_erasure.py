"""Erasure (GDPR Art. 17): sidecars go through the door, the chain still verifies and reads
"erased under R", a hold or a statutory floor keeps what it covers, and a sidecar deleted
without a request is tampering, located."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from django.core.management import call_command

from obsportal.compliance.models import AgentDeclaration
from obsportal.compliance.subjects import erasure, requests
from obsportal.ingest.models import AuditEvent, PersonalDatum
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.models import StreamVerification
from obsportal.integrity.verification import verify_streams
from obsportal.retention.models import LegalHold
from obsportal.trail.services import flush_trail, trail_agent_id
from tests.support.chains import admit_journal, superuser_sql


def result_for(run, stream) -> StreamVerification:
    return StreamVerification.objects.get(run=run, stream_id=stream)


@pytest.fixture
def erin(transactional_db, agent_token, tmp_path, signing_key):
    agent, token = agent_token
    mine = admit_journal(
        tmp_path,
        token,
        agent,
        "e.jsonl",
        6,
        user_id="erin",
        personal_data={"email": "erin@example.org", "note": "asked about her diagnosis"},
    )
    other = admit_journal(
        tmp_path,
        token,
        agent,
        "f.jsonl",
        3,
        user_id="frank",
        personal_data={"email": "frank@example.org"},
    )
    sign_checkpoint()
    return {"mine": mine, "other": other, "stream": mine[0]["stream"], "agent": agent}


def test_erasure_deletes_only_the_subjects_values_and_the_chain_reads_erased_under_r(erin, capsys):
    request = requests.create_request(
        kind="erasure",
        identifier="erin, erin@example.org",
        legal_ground="Art. 17(1)(a) no longer necessary",
    )
    done = erasure.erase_subject(request)
    assert done.status == "completed"
    assert done.outcome["counts"] == {
        "fields_erased": 12,
        "events": 6,
        "fields_kept_held": 0,
        "fields_kept_floor": 0,
    }
    assert not PersonalDatum.objects.filter(event__stream_id=erin["stream"]).exists()
    assert PersonalDatum.objects.filter(value="frank@example.org").count() == 3
    # the receipt: on the trail, signed, naming the request and the positions, no person
    flush_trail()
    receipt = AuditEvent.objects.get(agent_id=trail_agent_id(), action="subject.erasure")
    body = orjson.loads(receipt.canonical)
    assert body["details"]["reference"] == request.reference
    assert body["details"]["erased"][erin["stream"]][0] == [0, "email"]
    assert "erin" not in receipt.canonical.lower()
    sign_checkpoint()
    run = verify_streams()
    result = result_for(run, erin["stream"])
    assert result.status == "verified", result.first_break
    assert len(result.erased) == 12
    assert {e["reference"] for e in result.erased} == {request.reference}
    assert result_for(run, receipt.stream_id).status == "verified"
    with contextlib.suppress(SystemExit):  # exit 1 would only mean another stream's problem
        call_command("verify_streams", "--no-progress")
    assert f"erased under request {request.reference}: 12 field(s)" in capsys.readouterr().out


def test_a_sidecar_deleted_in_psql_after_an_erasure_is_tampering_located(erin):
    request = requests.create_request(
        kind="erasure", identifier="erin, erin@example.org", legal_ground="Art. 17(1)(d)"
    )
    erasure.erase_subject(request)
    frank = erin["other"][0]["stream"]
    superuser_sql(
        (
            "DELETE FROM ingest_personaldatum d USING ingest_auditevent e"
            " WHERE d.event_id = e.id AND e.stream_id = %s AND e.seq = 1",
            (frank,),
        )
    )
    run = verify_streams()
    assert result_for(run, erin["stream"]).status == "verified"
    broken = result_for(run, frank)
    assert broken.status == "broken"
    assert broken.first_break["seq"] == 1
    assert "sidecar 'email' is gone and no erasure request names it" in broken.first_break["reason"]


def test_a_receipt_forged_by_a_superuser_is_not_accepted(erin):
    """Whoever holds only the database cannot sign a receipt: a trail row inserted with a
    made-up receipt both breaks the trail's chain and fails the signature check."""
    from agents_sdk.audit.chain import compute_hash

    superuser_sql(
        (
            "DELETE FROM ingest_personaldatum d USING ingest_auditevent e"
            " WHERE d.event_id = e.id AND e.stream_id = %s AND e.seq = 2",
            (erin["stream"],),
        )
    )
    # the trail stream this process writes (a request puts an event on it): forge its next seq
    requests.create_request(kind="access", identifier="someone else")
    flush_trail()
    head = AuditEvent.objects.filter(agent_id=trail_agent_id()).order_by("-id").first()
    stream = head.stream_id
    seq, prev = head.seq + 1, head.hash
    details = {
        "request": "forged",
        "reference": "R-forged",
        "erased": {erin["stream"]: [[2, "email"]]},
        "signature": "AAAA",
    }
    body = {
        "v": 1,
        "event_id": "01a00000-0000-7000-8000-000000000001",
        "stream": stream,
        "seq": seq,
        "ts": "2026-12-01T00:00:00.000000Z",
        "agent_id": "obsportal",
        "action": "subject.erasure",
        "result": "success",
        "user_id": None,
        "resource": None,
        "details": details,
        "trace_id": None,
        "span_id": None,
        "pii_commitments": {},
        "prev_hash": prev,
    }
    from agents_sdk.audit.canonical import canonicalize

    superuser_sql(
        (
            "INSERT INTO ingest_auditevent (event_id, stream_id, seq, ts, agent_id, action, result,"
            " details, pii_commitments, prev_hash, hash, canonical, received_at)"
            " VALUES (%s, %s, %s, %s, 'obsportal', 'subject.erasure', 'success', %s, '{}', %s, %s,"
            " %s, now())",
            (
                body["event_id"],
                stream,
                seq,
                body["ts"],
                orjson.dumps(details).decode(),
                prev,
                compute_hash(body, prev),
                canonicalize(body).decode(),
            ),
        )
    )
    result = result_for(verify_streams(), erin["stream"])
    assert result.status == "broken"
    assert (
        result.first_break["seq"] == 2
        and "no erasure request names it" in result.first_break["reason"]
    )


def test_a_held_event_keeps_its_values_and_the_receipt_names_the_hold(erin):
    from obsportal.ingest.subjects import subject_key

    held = AuditEvent.objects.filter(stream_id=erin["stream"], seq__in=[4, 5])
    hold = LegalHold.objects.create(
        name="case 2026-17",
        reason="litigation",
        streams=[erin["stream"]],
        ts_from=held.order_by("seq").first().ts,
    )
    request = requests.create_request(
        kind="erasure", identifier="erin, erin@example.org", legal_ground="Art. 17(1)(a)"
    )
    done = erasure.erase_subject(request)
    assert done.outcome["counts"]["fields_kept_held"] == 4
    assert done.outcome["exceptions"] == [{"kind": "legal_hold", "hold": hold.pk, "fields": 4}]
    assert done.outcome["holds"][0]["name"] == "case 2026-17"
    kept = PersonalDatum.objects.filter(event__stream_id=erin["stream"])
    assert sorted(kept.values_list("event__seq", flat=True)) == [4, 4, 5, 5]
    assert kept.filter(field="email").first().subject_key == subject_key("erin@example.org")
    result = result_for(verify_streams(), erin["stream"])
    assert result.status == "verified" and len(result.erased) == 8


def test_a_statutory_floor_keeps_values_and_is_reported(erin):
    AgentDeclaration.objects.create(
        agent_id=erin["agent"],
        legal_basis="Art. 9(2)(h) health care",
        retention_floor_days=6 * 365,
        floor_source="HIPAA 45 CFR 164.316(b)(2)",
    )
    request = requests.create_request(
        kind="erasure", identifier="erin, erin@example.org", legal_ground="Art. 17(1)(a)"
    )
    done = erasure.erase_subject(request)
    assert done.outcome["counts"]["fields_erased"] == 0
    assert done.outcome["exceptions"] == [
        {"kind": "statutory_floor", "source": "HIPAA 45 CFR 164.316(b)(2)", "fields": 12}
    ]
    assert PersonalDatum.objects.filter(event__stream_id=erin["stream"]).count() == 12


def test_an_erasure_names_its_legal_ground(transactional_db):
    with pytest.raises(requests.RequestRefused, match="legal ground"):
        requests.create_request(kind="erasure", identifier="erin, erin@example.org")
