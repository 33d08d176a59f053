"""What append-only storage keeps forever is checked first: ts window, ids' charset, lengths."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from agents_sdk.audit.canonical import NotCanonicalizable
from agents_sdk.audit.chain import GENESIS_HASH, compute_hash
from obsportal.ingest.models import AuditEvent
from obsportal.ingest.services import admit_batch

pytestmark = pytest.mark.django_db


def sealed(agent: str, **fields) -> dict:
    """A first event of a fresh stream, hashed over whatever fields it is given."""
    body = {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "stream": str(uuid.uuid4()),
        "seq": 0,
        "ts": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "agent_id": agent,
        "action": "tool_execute",
        "result": "success",
        "user_id": None,
        "resource": None,
        "details": {},
        "trace_id": None,
        "span_id": None,
        "pii_commitments": {},
        "prev_hash": GENESIS_HASH,
    }
    body.update(fields)
    try:
        digest = compute_hash(body, body["prev_hash"])
    except NotCanonicalizable:  # a NUL: refused before its hash is looked at
        digest = "0" * 64
    return {**body, "hash": digest}


def admit(token: str, event: dict):
    return admit_batch({"token": token, "events": [event]})


def ts_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(
    ("ts", "says"),
    [
        ("2026-13-45T10:00:00.000000Z", "not a valid date and time"),
        ("0000-01-01T00:00:00.000000Z", "not a valid date and time"),
        ("2026-02-30T10:00:00.000000Z", "not a valid date and time"),
        ("2026-01-01T24:00:00.000000Z", "not a valid date and time"),
        ("1999-12-31T23:59:59.999999Z", "before 2000"),
        ("9999-12-31T23:59:59.999999Z", "ahead of the portal's clock"),
    ],
)
def test_a_ts_outside_the_window_is_refused_with_a_sentence(agent_token, ts, says):
    agent, token = agent_token
    verdict = admit(token, sealed(agent, ts=ts))
    assert verdict.status == "rejected"
    assert verdict.reason_code == "invalid_ts"
    assert says in verdict.reason
    assert AuditEvent.objects.count() == 0


def test_a_ts_within_the_allowed_skew_is_admitted(agent_token, settings):
    agent, token = agent_token
    ahead = datetime.now(UTC) + timedelta(seconds=settings.OBSPORTAL_TS_MAX_SKEW_SECONDS - 30)
    assert admit(token, sealed(agent, ts=ts_of(ahead))).status == "accepted"
    too_far = datetime.now(UTC) + timedelta(seconds=settings.OBSPORTAL_TS_MAX_SKEW_SECONDS + 30)
    assert admit(token, sealed(agent, ts=ts_of(too_far))).reason_code == "invalid_ts"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", ""),
        ("stream", "a/b"),
        ("stream", "with space"),
        ("stream", "nul\x00"),
        ("action", ""),
        ("action", "drop table;"),
        ("action", "tab\there"),
        ("action", "é-accent"),
    ],
)
def test_ids_outside_the_charset_are_refused(agent_token, field, value):
    agent, token = agent_token
    verdict = admit(token, sealed(agent, **{field: value}))
    assert verdict.status == "rejected"
    assert verdict.reason_code == "invalid_event"
    assert f"'{field}'" in verdict.reason


@pytest.mark.parametrize("value", ["line\nbreak", "bell\x07", "nul\x00"])
def test_free_text_fields_refuse_control_characters(agent_token, value):
    agent, token = agent_token
    for field in ("user_id", "resource"):
        verdict = admit(token, sealed(agent, **{field: value}))
        assert verdict.reason_code == "invalid_event", (field, verdict)
        assert "control character" in verdict.reason


def test_the_documented_charset_is_admitted(agent_token):
    agent, token = agent_token
    event = sealed(
        agent,
        action="mcp.tool:search@v2+beta_1-x",
        user_id="Ana María <ana@example.com>",
        resource="crm://tickets/42?x=1 y",
    )
    assert admit(token, event).status == "accepted"


def test_an_agent_id_outside_the_charset_cannot_be_issued():
    from obsportal.accounts.services import AccountChangeRefused, issue_agent_token

    for bad in ("", "a/b", "with space", "x" * 201):
        with pytest.raises(AccountChangeRefused):
            issue_agent_token(bad)
