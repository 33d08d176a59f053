"""A batch checked whole before admission: shape, size, token, envelope, hash, JSONL lines."""

import json

import pytest

from obsportal.ingest.envelope import as_envelope
from obsportal.ingest.models import (
    AuditEvent,
    RejectedBatch,
)
from obsportal.ingest.services import admit_batch
from obsportal.ingest.verdicts import MAX_BATCH_EVENTS
from tests.factories import journal_events, tampered

pytestmark = pytest.mark.django_db


def _bad_batches(events):
    missing = dict(events[0])
    del missing["action"]
    return {
        "missing_field": ([missing], "invalid_event", "field 'action' is missing"),
        "wrong_type": ([tampered(events[0], seq="0")], "invalid_event", "field 'seq' must be int"),
        "bad_hash": (
            [tampered(events[0], action="something_else")],
            "bad_hash",
            "hash does not match",
        ),
        "renumbered": ([events[0], tampered(events[2], seq=1)], "bad_hash", "hash does not match"),
    }


@pytest.mark.parametrize("case", ["missing_field", "wrong_type", "bad_hash", "renumbered"])
def test_malformed_batch_is_refused_whole_with_a_reason(agent_token, tmp_path, case):
    agent, token = agent_token
    events = journal_events(tmp_path, agent)
    batch, code, message = _bad_batches(events)[case]
    verdict = admit_batch({"token": token, "events": [*batch]})
    assert verdict.status == "rejected"
    assert verdict.reason_code == code and message in verdict.reason
    assert AuditEvent.objects.count() == 0
    rejected = RejectedBatch.objects.get()
    assert rejected.reason_code == code and message in rejected.reason


def test_unknown_token_and_another_agents_events_are_refused(agent_token, tmp_path):
    _, token = agent_token
    events = journal_events(tmp_path, "someone-else")
    assert admit_batch({"token": "agt_nope", "events": events}).reason_code == "bad_token"
    verdict = admit_batch({"token": token, "events": events})
    assert verdict.reason_code == "wrong_agent"
    assert "belongs to agent 'agent-7'" in verdict.reason
    assert AuditEvent.objects.count() == 0


def test_oversized_batch_is_refused_before_reading_its_events(agent_token, monkeypatch):
    from obsportal.ingest import decoding

    monkeypatch.setattr(decoding, "MAX_BATCH_EVENTS", 2)
    _, token = agent_token
    verdict = admit_batch({"token": token, "events": [{}, {}, {}]})
    assert verdict.reason_code == "oversized" and "the limit is 2" in verdict.reason
    assert RejectedBatch.objects.get().event_count == 3


def _jsonl(events):
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


def test_a_jsonl_batch_is_admitted_like_its_events_form(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, personal_data={"email": "a@example.com"})
    verdict = admit_batch({"token": token, "lines": _jsonl(events)})
    assert (verdict.status, verdict.admitted) == ("accepted", 3)
    stored = [as_envelope(e) for e in AuditEvent.objects.order_by("seq")]
    assert stored == [{k: v for k, v in e.items() if k != "pii"} for e in events]
    assert admit_batch({"token": token, "lines": _jsonl(events)}).duplicates == 3


@pytest.mark.parametrize(
    ("lines", "code", "message"),
    [
        ('{"v": 1}\n{not json\n', "malformed_json", "line 1 of the batch is not JSON"),
        ("\n", "malformed_json", "line 0 of the batch is not JSON"),
        ("", "malformed", "the batch has no events"),
        (["{}"], "malformed", "'lines' must be a string"),
    ],
)
def test_a_jsonl_batch_that_does_not_parse_is_refused(agent_token, lines, code, message):
    _, token = agent_token
    verdict = admit_batch({"token": token, "lines": lines})
    assert (verdict.status, verdict.reason_code) == ("rejected", code)
    assert message in verdict.reason
    assert AuditEvent.objects.count() == 0
    assert RejectedBatch.objects.get().reason_code == code


def test_a_jsonl_batch_carries_the_same_checks(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent)
    lines = _jsonl([events[0], tampered(events[1], action="forged")])
    verdict = admit_batch({"token": token, "lines": lines})
    assert (verdict.status, verdict.reason_code) == ("rejected", "bad_hash")
    too_many = _jsonl([events[0]] * (MAX_BATCH_EVENTS + 1))
    assert admit_batch({"token": token, "lines": too_many}).reason_code == "oversized"
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ts", "2026-01-02T03:04:05.123456Z\n"),
        ("ts", "2026-01-02T03:04:0\u0665.123456Z"),  # an Arabic-Indic digit
        ("trace_id", "0af7651916cd43dd8448eb211c80319c\n"),
    ],
)
def test_a_correctly_hashed_event_with_a_malformed_field_is_refused(
    agent_token, tmp_path, field, value
):
    from agents_sdk.audit.chain import compute_hash, hashed_body

    agent, token = agent_token
    event = tampered(journal_events(tmp_path, agent, count=1)[0], **{field: value})
    event["hash"] = compute_hash(hashed_body(event), event["prev_hash"])
    verdict = admit_batch({"token": token, "events": [event]})
    assert verdict.status == "rejected" and verdict.reason_code == "invalid_event"
    assert field in verdict.reason
    assert AuditEvent.objects.count() == 0
