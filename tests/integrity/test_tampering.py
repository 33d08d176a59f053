"""Tampering by a PostgreSQL superuser around the append-only trigger is detected and located."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.core.management import call_command

from agents_sdk.audit.canonical import canonicalize
from agents_sdk.audit.chain import compute_hash, hashed_body
from obsportal.ingest.models import PersonalDatum
from obsportal.integrity.models import StreamVerification
from obsportal.integrity.verification import verify_streams
from tests.support.chains import superuser_sql

UPDATE_EVENT = "UPDATE ingest_auditevent SET {} WHERE stream_id = %s AND seq = %s"


def content(**changes) -> str:
    """A SET clause changing columns and, as a thorough attacker would, the hashed body
    they are served from (as jsonb text: the content, not the hash, changes)."""
    columns = ", ".join(f"{name} = '{value}'" for name, value in changes.items())
    merged = json.dumps(changes)
    return f"{columns}, canonical = (canonical::jsonb || '{merged}'::jsonb)::text"


def canonical_of(event) -> str:
    return canonicalize(hashed_body(event)).decode()


def rewritten_consistently(events, prev: str, set_sql: str, **changes) -> list[tuple[str, tuple]]:
    """SQL that changes `events` (as `set_sql` and `changes` say) and recomputes every
    hash and link from `prev` on, the stream's recorded head included: only what was
    signed before can expose it."""
    stream, statements = events[0]["stream"], []
    for event in events:
        body = dict(hashed_body(event), prev_hash=prev, **changes)
        new_hash = compute_hash(body, prev)
        statements.append(
            (
                UPDATE_EVENT.format(f"{set_sql}, prev_hash = %s, hash = %s, canonical = %s"),
                (prev, new_hash, canonicalize(body).decode(), stream, event["seq"]),
            )
        )
        prev = new_hash
    statements.append(("UPDATE ingest_stream SET head_hash = %s WHERE id = %s", (prev, stream)))
    return statements


def result_for(run, stream_id) -> StreamVerification:
    return run.streams.get(stream_id=stream_id)


def test_untouched_chains_verify(two_chains):
    run = verify_streams()
    assert run.status == "verified"
    assert run.events_checked == 20
    for result in run.streams.all():
        assert (result.status, result.verified_from, result.verified_to) == ("verified", 0, 9)
        assert result.first_break is None and not result.checkpoint_disagreements


def test_the_trigger_refuses_an_update_without_superuser_tricks(two_chains):
    from django.conf import settings

    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute("UPDATE ingest_auditevent SET action = 'x'")


def test_one_changed_field_is_located(two_chains):
    stream, victim = two_chains["a"][4]["stream"], two_chains["a"][4]
    superuser_sql((UPDATE_EVENT.format(content(result="denied")), (stream, 4)))
    run = verify_streams()
    result = result_for(run, stream)
    assert run.status == "problems" and result.status == "broken"
    assert result.first_break == {
        "seq": 4,
        "event_id": victim["event_id"],
        "reason": "hash does not match the event's content",
    }
    assert (result.verified_from, result.verified_to) == (0, 3)
    assert result_for(run, two_chains["b"][0]["stream"]).status == "verified"


def test_a_column_changed_apart_from_the_hashed_body_is_located(two_chains):
    stream, victim = two_chains["a"][4]["stream"], two_chains["a"][4]
    superuser_sql((UPDATE_EVENT.format("result = 'denied'"), (stream, 4)))
    result = result_for(verify_streams(), stream)
    assert result.first_break == {
        "seq": 4,
        "event_id": victim["event_id"],
        "reason": "column(s) result differ from the hashed body: the stored row was altered",
    }


def test_a_changed_field_with_its_hash_recomputed_breaks_the_next_link(two_chains):
    events = two_chains["a"]
    stream = events[0]["stream"]
    forged = dict(events[4], result="denied")
    forged_hash = compute_hash(hashed_body(forged), forged["prev_hash"])
    superuser_sql(
        (
            UPDATE_EVENT.format("result = 'denied', hash = %s, canonical = %s"),
            (forged_hash, canonical_of(forged), stream, 4),
        )
    )
    result = result_for(verify_streams(), stream)
    assert result.first_break["seq"] == 5
    assert result.first_break["event_id"] == events[5]["event_id"]
    assert "seq 4 was rewritten" in result.first_break["reason"]


def test_a_deleted_row_shows_as_a_located_gap(two_chains):
    stream = two_chains["a"][0]["stream"]
    superuser_sql(("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 6", (stream,)))
    result = result_for(verify_streams(), stream)
    assert result.status == "broken"
    assert result.gaps == [[6, 6]]
    assert result.first_break["seq"] == 6
    assert (
        result.first_break["reason"]
        == f"seq 6 missing before event {two_chains['a'][7]['event_id']}"
    )
    assert result.verified_to == 5


def _insert_event(event, row_id_sql="nextval('ingest_auditevent_id_seq')"):
    return (
        "INSERT INTO ingest_auditevent (id, event_id, stream_id, seq, ts, agent_id, action, "
        "result, user_id, resource, details, trace_id, span_id, pii_commitments, prev_hash, "
        f"hash, canonical, received_at) VALUES ({row_id_sql}, %s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s::jsonb, %s, %s, %s::jsonb, %s, %s, %s, now())",
        (
            event["event_id"],
            event["stream"],
            event["seq"],
            event["ts"],
            event["agent_id"],
            event["action"],
            event["result"],
            event["user_id"],
            event["resource"],
            json.dumps(event["details"]),
            event["trace_id"],
            event["span_id"],
            json.dumps(event["pii_commitments"]),
            event["prev_hash"],
            event["hash"],
            canonical_of(event),
        ),
    )


def test_a_forged_row_with_a_valid_hash_is_located_beyond_the_recorded_head(two_chains):
    last = two_chains["a"][-1]
    forged = {k: v for k, v in last.items() if k != "pii"}
    forged.update(
        event_id="01900000-0000-7000-8000-000000000001",
        seq=10,
        prev_hash=last["hash"],
        action="permission_grant",
    )
    forged["hash"] = compute_hash(hashed_body(forged), forged["prev_hash"])
    superuser_sql(_insert_event(forged))
    result = result_for(verify_streams(), last["stream"])
    assert result.status == "broken"
    assert result.first_break["seq"] == 10
    assert "beyond the recorded head seq 9" in result.first_break["reason"]
    assert result.verified_to == 10  # the links hold; the head record exposes it


def test_a_forged_row_replacing_a_deleted_one_is_located(two_chains):
    events = two_chains["a"]
    forged = {k: v for k, v in events[3].items() if k != "pii"}
    forged.update(event_id="01900000-0000-7000-8000-000000000002", action="data_export")
    forged["hash"] = compute_hash(hashed_body(forged), forged["prev_hash"])
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 3", (forged["stream"],)),
        _insert_event(forged),
    )
    result = result_for(verify_streams(), forged["stream"])
    assert result.first_break["seq"] == 4
    assert result.first_break["event_id"] == events[4]["event_id"]
    assert "seq 3 was rewritten or this event was forged" in result.first_break["reason"]


def test_rows_of_a_stream_ingestion_never_saw_are_found(two_chains):
    """A whole chain inserted around ingestion: every link holds, but nobody admitted it."""
    template = {k: v for k, v in two_chains["a"][0].items() if k != "pii"}
    prev, statements = "0" * 64, []
    for seq in range(3):
        forged = dict(
            template,
            stream="agent-7/intruder",
            seq=seq,
            event_id=f"01900000-0000-7000-8000-00000000010{seq}",
            prev_hash=prev,
        )
        forged["hash"] = prev = compute_hash(hashed_body(forged), forged["prev_hash"])
        statements.append(_insert_event(forged))
    superuser_sql(*statements)

    run = verify_streams()
    result = result_for(run, "agent-7/intruder")
    assert run.status == "problems" and result.status == "broken"
    assert result.verified_to == 2  # the forged chain itself is consistent
    assert result.first_break["seq"] == 0
    reason = result.first_break["reason"]
    assert "3 events are stored for this stream, but ingestion has no record of it" in reason


def test_a_deleted_stream_record_is_reported_even_with_its_rows_intact(two_chains):
    stream = two_chains["b"][0]["stream"]
    superuser_sql(("DELETE FROM ingest_stream WHERE id = %s", (stream,)))
    result = result_for(verify_streams(), stream)
    assert result.status == "broken" and result.events_checked == 10
    assert "ingestion has no record of it" in result.first_break["reason"]


def test_two_swapped_rows_are_located(two_chains):
    stream = two_chains["a"][0]["stream"]
    superuser_sql(
        (UPDATE_EVENT.format("seq = -1"), (stream, 3)),
        (UPDATE_EVENT.format("seq = 3"), (stream, 6)),
        (UPDATE_EVENT.format("seq = 6"), (stream, -1)),
    )
    result = result_for(verify_streams(), stream)
    assert result.first_break["seq"] == 3
    assert result.first_break["event_id"] == two_chains["a"][6]["event_id"]
    # Both moved rows fail their hash and link; the rows after them no longer link.
    assert {b["seq"] for b in result.breaks} == {3, 4, 6, 7}


def test_a_consistently_truncated_tail_is_caught_by_the_checkpoint(two_chains):
    events = two_chains["a"]
    stream, checkpoint = events[0]["stream"], two_chains["checkpoint"]
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq >= 7", (stream,)),
        (
            "UPDATE ingest_stream SET head_seq = 6, head_hash = %s WHERE id = %s",
            (events[6]["hash"], stream),
        ),
    )
    result = result_for(verify_streams(), stream)
    assert result.status == "broken"
    assert (result.verified_to, result.last_seq, result.gaps) == (6, 6, [])
    [disagreement] = result.checkpoint_disagreements
    assert disagreement["checkpoint"] == checkpoint.number and disagreement["seq"] == 9
    assert "no longer stored: the stream was truncated" in disagreement["reason"]
    assert disagreement["changed"] == [7, 9]


def test_a_consistently_rewritten_stream_is_caught_by_the_checkpoint(two_chains):
    events = two_chains["a"]
    stream, checkpoint = events[0]["stream"], two_chains["checkpoint"]
    statements = rewritten_consistently(
        events, "0" * 64, "details = '{\"rewritten\": true}'", details={"rewritten": True}
    )
    superuser_sql(*statements)
    rewritten_head = statements[-1][1][0]
    result = result_for(verify_streams(), stream)
    # Every link recomputes, but the signed head disputes seq 0..9: nothing is verified.
    assert result.first_break is None and result.verified_to is None
    assert result.status == "broken"
    [disagreement] = result.checkpoint_disagreements
    assert disagreement["checkpoint"] == checkpoint.number and disagreement["seq"] == 9
    assert disagreement["signed_hash"] == events[9]["hash"]
    assert disagreement["stored_hash"] == rewritten_head
    assert "the stream was rewritten" in disagreement["reason"]


def test_a_deleted_stream_is_caught_by_the_checkpoint(two_chains):
    stream = two_chains["a"][0]["stream"]
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s", (stream,)),
        ("DELETE FROM ingest_stream WHERE id = %s", (stream,)),
    )
    result = result_for(verify_streams(), stream)
    assert result.status == "missing" and result.events_checked == 0
    assert "truncated or deleted" in result.checkpoint_disagreements[0]["reason"]


def test_a_tampered_checkpoint_table_is_reported(two_chains):
    stream = two_chains["a"][0]["stream"]
    superuser_sql(
        (
            "UPDATE integrity_checkpointhead SET hash = %s WHERE stream_id = %s",
            ("ab" * 32, stream),
        )
    )
    run = verify_streams()
    assert run.status == "problems"
    assert "no longer reproduce the signed root" in run.checkpoint_problems[0]


def test_a_sidecar_deleted_without_an_erasure_request_is_tampering(two_chains):
    # An erasure under a request reads "erased under R" (tests/compliance/test_erasure.py);
    # the same row deleted with no signed receipt on the trail is located as tampering.
    stream = two_chains["b"][0]["stream"]
    erased = PersonalDatum.objects.filter(event__stream_id=stream, event__seq=2)
    assert erased.count() == 1
    erased.delete()
    result = result_for(verify_streams(), stream)
    assert result.status == "broken" and result.erased == []
    assert result.first_break["seq"] == 2
    assert "sidecar 'email' is gone and no erasure request names it" in result.first_break["reason"]


def test_a_changed_sidecar_value_is_tampering(two_chains):
    stream = two_chains["b"][0]["stream"]
    datum = PersonalDatum.objects.get(event__stream_id=stream, event__seq=5)
    superuser_sql(
        (
            "UPDATE ingest_personaldatum SET value = '\"mallory@example.com\"' WHERE id = %s",
            (datum.pk,),
        )
    )
    result = result_for(verify_streams(), stream)
    assert result.status == "broken"
    assert result.first_break["seq"] == 5
    assert "sidecar 'email' does not open its commitment" in result.first_break["reason"]


def test_verify_streams_command_exit_codes_and_progress(two_chains, capsys):
    call_command("verify_streams")  # no SystemExit: all verified
    out = capsys.readouterr()
    assert "all verified" in out.out and "events" in out.err and "[" in out.err
    superuser_sql((UPDATE_EVENT.format(content(action="x")), (two_chains["a"][0]["stream"], 2)))
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_streams")
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "first broken link: seq 2" in out and "hash does not match" in out


def test_events_admitted_during_a_walk_are_not_reported(two_chains, tmp_path):
    from obsportal.ingest.models import Stream
    from obsportal.ingest.services import admit_batch
    from obsportal.integrity.verification import verify_stream
    from tests.factories import journal_events

    stale = Stream.objects.get(pk=two_chains["a"][0]["stream"])
    grown = journal_events(tmp_path, "agent-7", count=3, name="c.jsonl")
    assert admit_batch({"token": two_chains["token"], "events": grown}).admitted == 3
    fresh_stream = Stream.objects.get(pk=grown[0]["stream"])
    fresh_stream.head_seq = -1  # as read before its first events arrived
    for stream, last in ((stale, 9), (fresh_stream, 2)):
        findings = verify_stream(stream.pk, stream)
        assert findings.problems == 0 and findings.last_seq == last


def test_a_rewritten_head_event_disagrees_with_the_recorded_head(two_chains):
    events = two_chains["a"]
    forged = dict(events[9], result="denied")
    forged_hash = compute_hash(hashed_body(forged), forged["prev_hash"])
    superuser_sql(
        (
            UPDATE_EVENT.format("result = 'denied', hash = %s, canonical = %s"),
            (forged_hash, canonical_of(forged), forged["stream"], 9),
        )
    )
    result = result_for(verify_streams(), forged["stream"])
    assert result.first_break["seq"] == 9
    assert "does not have the recorded head hash" in result.first_break["reason"]


def test_a_stream_deleted_with_its_checkpoints_is_caught_by_the_copies(two_chains):
    stream = two_chains["a"][0]["stream"]
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s", (stream,)),
        ("DELETE FROM ingest_stream WHERE id = %s", (stream,)),
        ("DELETE FROM integrity_checkpointhead", ()),
        ("DELETE FROM integrity_checkpoint", ()),
    )
    run = verify_streams()
    assert run.status == "problems"
    checkpoint = two_chains["checkpoint"].number
    assert run.checkpoint_problems == [
        f"checkpoint {checkpoint} is missing from the database but its signed copy "
        "outside PostgreSQL verifies"
    ]
    result = result_for(run, stream)
    assert result.status == "missing"
    [disagreement] = result.checkpoint_disagreements
    assert disagreement["checkpoint"] == checkpoint and disagreement["seq"] == 9


def test_a_fork_offered_at_ingest_is_reported_and_the_chain_stays_whole(two_chains):
    from obsportal.ingest.services import admit_batch
    from tests.factories import tampered

    original = two_chains["a"][4]
    fork = tampered(original, event_id="01900000-0000-7000-8000-0000000000f0", result="denied")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    verdict = admit_batch({"token": two_chains["token"], "events": [fork]})
    assert verdict.forks == 1
    result = result_for(verify_streams(), original["stream"])
    assert result.status == "forked" and result.first_break is None
    assert result.verified_to == 9
    [reported] = result.forks
    assert reported["seq"] == 4
    assert reported["stored_hash"] == original["hash"]
    assert reported["offered_hash"] == fork["hash"]


def test_checkpoints_locate_a_consistent_rewrite_between_signed_heads(two_chains, tmp_path):
    """Heads signed at seq 9 and, after more events, at seq 14: a consistent rewrite of
    seq 11..14 is placed after the agreeing head (9) and up to the disagreeing one (14)."""
    from agents_sdk import JournalWriter
    from obsportal.ingest.services import admit_batch
    from obsportal.integrity.checkpoints import sign_checkpoint
    from tests.independent_chain import read_journal

    path = tmp_path / "a.jsonl"  # continue stream a's own journal
    with JournalWriter(path, "agent-7") as journal:
        for i in range(5):
            journal.append("tool_execute", "success", details={"more": i})
    events = read_journal(path)
    assert admit_batch({"token": two_chains["token"], "events": events[10:]}).admitted == 5
    later = sign_checkpoint()
    stream = events[0]["stream"]
    rewrite = rewritten_consistently(
        events[11:], events[10]["hash"], "result = 'failure'", result="failure"
    )
    superuser_sql(*rewrite)
    result = result_for(verify_streams(), stream)
    [disagreement] = result.checkpoint_disagreements
    assert disagreement["checkpoint"] == later.number and disagreement["seq"] == 14
    assert disagreement["changed"] == [10, 14]
    assert "rewritten within seq 10..14" in disagreement["reason"]
