"""Admission: what extends a head is stored, re-deliveries are no-ops, forks are incidents."""

import pytest

from obsportal.ingest.envelope import as_envelope
from obsportal.ingest.models import (
    AuditEvent,
    IntegrityIncident,
    PendingEvent,
    RejectedBatch,
    Stream,
)
from obsportal.ingest.services import admit_batch
from tests.factories import journal_events, tampered

pytestmark = pytest.mark.django_db


def test_a_valid_batch_is_stored_with_identical_hashed_fields(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, personal_data={"email": "a@example.com"})
    verdict = admit_batch({"token": token, "events": events})
    assert verdict.status == "accepted" and verdict.admitted == 3
    stored = [as_envelope(e) for e in AuditEvent.objects.order_by("seq")]
    assert stored == [{k: v for k, v in e.items() if k != "pii"} for e in events]
    stream = Stream.objects.get()
    assert (stream.head_seq, stream.head_hash) == (2, events[-1]["hash"])


def test_replayed_batch_stores_nothing_new(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent)
    admit_batch({"token": token, "events": events})
    verdict = admit_batch({"token": token, "events": events})
    assert (verdict.admitted, verdict.duplicates) == (0, 3)
    assert AuditEvent.objects.count() == 3


def test_event_that_does_not_link_to_the_stored_head_is_refused(agent_token, tmp_path):
    agent, token = agent_token
    first = journal_events(tmp_path, agent, count=2, name="a.jsonl")
    admit_batch({"token": token, "events": first[:1]})
    # A correctly hashed event of the same stream at seq 1 whose prev_hash is another chain's.
    other = journal_events(tmp_path, agent, count=2, name="b.jsonl")
    forged = tampered(other[1], stream=first[0]["stream"])
    from agents_sdk.audit.chain import compute_hash, hashed_body

    forged["hash"] = compute_hash(hashed_body(forged), forged["prev_hash"])
    verdict = admit_batch({"token": token, "events": [forged]})
    assert verdict.reason_code == "broken_link"
    assert "does not link to the stored head" in verdict.reason
    assert AuditEvent.objects.count() == 1


def test_a_different_event_at_a_stored_seq_is_a_fork_and_the_original_stays(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    admit_batch({"token": token, "events": events})
    from agents_sdk.audit.chain import compute_hash, hashed_body

    fork = tampered(events[1], action="rewritten")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    verdict = admit_batch({"token": token, "events": [fork]})
    assert verdict.forks == 1 and verdict.admitted == 0
    incident = IntegrityIncident.objects.get()
    assert (incident.seq, incident.stored_hash, incident.offered_hash) == (
        1,
        events[1]["hash"],
        fork["hash"],
    )
    assert AuditEvent.objects.get(agent_id=agent, seq=1).action == "tool_execute"
    assert Stream.objects.get(agent_id=agent).status == "forked"


def test_out_of_order_events_wait_for_the_gap_then_admit(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=4)
    assert admit_batch({"token": token, "events": events[2:]}).pending == 2
    assert AuditEvent.objects.count() == 0
    verdict = admit_batch({"token": token, "events": events[:2]})
    assert verdict.admitted == 4
    assert PendingEvent.objects.count() == 0
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [0, 1, 2, 3]


def test_database_refuses_update_and_delete_of_audit_rows(agent_token, tmp_path):
    from django.db import DatabaseError, connection, transaction

    agent, token = agent_token
    admit_batch({"token": token, "events": journal_events(tmp_path, agent, count=1)})
    for statement in ("UPDATE ingest_auditevent SET action = 'x'", "DELETE FROM ingest_auditevent"):
        with (  # noqa: PT012 - the SET LOCAL belongs to the transaction that must fail
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL obsportal.audit_mutation = 'off'")
            cursor.execute(statement)
    assert AuditEvent.objects.get().action == "tool_execute"


def _forked(event):
    from agents_sdk.audit.chain import compute_hash, hashed_body

    fork = tampered(event, action="rewritten")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    return fork


def test_a_fork_refuses_the_batch_records_one_incident_and_stores_nothing_of_it(
    agent_token, tmp_path
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=4)
    admit_batch({"token": token, "events": events[:2]})
    batch = [_forked(events[1]), events[2], events[3]]
    for _ in range(2):  # a shipper retrying the same fork adds no second incident
        verdict = admit_batch({"token": token, "events": batch})
        assert (verdict.status, verdict.reason_code, verdict.forks) == ("rejected", "fork", 1)
        assert "seq 1: a different event is already stored" in verdict.reason
    assert IntegrityIncident.objects.count() == 1
    agents_rows = AuditEvent.objects.filter(agent_id=agent)  # the fork itself is on the trail
    assert agents_rows.count() == 2 and Stream.objects.get(agent_id=agent).head_seq == 1
    assert list(RejectedBatch.objects.values_list("reason_code", flat=True)) == ["fork", "fork"]


def test_result_carries_counts_per_result_and_the_admitted_time_range(agent_token, tmp_path):
    agent, token = agent_token
    ok = journal_events(tmp_path, agent, count=3, name="a.jsonl")
    denied = journal_events(tmp_path, agent, count=2, name="b.jsonl", result="denied")
    verdict = admit_batch({"token": token, "events": ok + denied})
    assert verdict.agent_id == agent and verdict.offered == 5
    assert verdict.admitted_by_result == {"success": 3, "denied": 2}
    stamps = sorted(e["ts"] for e in ok + denied)
    assert (verdict.oldest_admitted_ts, verdict.newest_admitted_ts) == (stamps[0], stamps[-1])
    assert verdict.heads == {ok[0]["stream"]: 2, denied[0]["stream"]: 1}


def test_waiting_events_superseded_by_an_in_order_resend_leave_no_pending_rows(
    agent_token, tmp_path
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=5)
    assert admit_batch({"token": token, "events": events[3:]}).pending == 2
    assert admit_batch({"token": token, "events": events}).admitted == 5
    assert PendingEvent.objects.count() == 0
    assert Stream.objects.get().pending_count == 0


def test_event_far_past_the_head_is_refused(agent_token, tmp_path, monkeypatch):
    from obsportal.ingest import services

    monkeypatch.setattr(services, "MAX_PENDING_AHEAD", 2)
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=4)
    verdict = admit_batch({"token": token, "events": [events[3]]})
    assert verdict.reason_code == "too_far_ahead"
    assert PendingEvent.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_an_event_id_stored_at_another_position_refuses_the_batch(agent_token, tmp_path):
    from agents_sdk.audit.chain import compute_hash, hashed_body

    agent, token = agent_token
    first = journal_events(tmp_path, agent, count=1, name="a.jsonl")
    admit_batch({"token": token, "events": first})
    other = tampered(journal_events(tmp_path, agent, count=1, name="b.jsonl")[0])
    other["event_id"] = first[0]["event_id"]
    other["hash"] = compute_hash(hashed_body(other), other["prev_hash"])
    verdict = admit_batch({"token": token, "events": [other]})
    assert verdict.reason_code == "duplicate_event_id"
    assert f"stream {first[0]['stream']} seq 0" in verdict.reason
    assert AuditEvent.objects.count() == 1
    assert not Stream.objects.filter(id=other["stream"]).exists()


def test_a_batch_costs_a_fixed_number_of_queries_whatever_its_size(agent_token, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("the fixed round trips are the PostgreSQL (COPY) path's")
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=400)
    admit_batch({"token": token, "events": events[:1]})  # the stream exists from here on
    with CaptureQueriesContext(connection) as fresh:
        assert admit_batch({"token": token, "events": events[1:]}).admitted == 399
    with CaptureQueriesContext(connection) as resend:
        assert admit_batch({"token": token, "events": events}).duplicates == 400
    # token, head lock, the credential's pinned agent key, the stored-event_id check (no
    # unique index spans the month partitions), head update (+ savepoint bookkeeping); COPY
    # runs outside the counter. A signed batch adds one signed-head upsert.
    assert len(fresh) <= 8, [q["sql"][:80] for q in fresh]
    # token, head lock, pinned key, one stored-hash lookup for all 400 seqs.
    assert len(resend) <= 6, [q["sql"][:80] for q in resend]
