"""What envelope v1 refuses, at the SDK's record_audit and in every verifier alike: real
timestamps only, ids of a documented charset, no control characters, bounded nesting."""

from __future__ import annotations

import pytest

from agents_sdk import JournalWriter
from agents_sdk.audit.canonical import MAX_DEPTH, NotCanonicalizable, canonicalize
from agents_sdk.audit.chain import InvalidEvent, compute_hash, hashed_body, validate_envelope
from tests.factories import journal_events


@pytest.fixture
def event(tmp_path):
    return journal_events(tmp_path, count=1)[0]


def resealed(event: dict, **changes) -> dict:
    changed = {**event, **changes}
    changed["hash"] = compute_hash(hashed_body(changed), changed["prev_hash"])
    return changed


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("ts", "2026-13-45T10:00:00.000000Z", "not a valid date and time"),
        ("ts", "0000-01-01T00:00:00.000000Z", "not a valid date and time"),
        ("ts", "2026-02-30T00:00:00.000000Z", "not a valid date and time"),
        ("ts", "1970-01-01T00:00:00.000000Z", "before 2000"),
        ("stream", "", "'stream'"),
        ("stream", "a/b", "'stream'"),
        ("agent_id", "agent 7", "'agent_id'"),
        ("action", "tool\texecute", "'action'"),
        ("action", "ação", "'action'"),
        ("user_id", "alice\n", "control character"),
        ("resource", "crm://x\x1b[2J", "control character"),
    ],
)
def test_validate_envelope_refuses(event, field, value, says):
    with pytest.raises(InvalidEvent, match=says.replace("(", r"\(")):
        validate_envelope(resealed(event, **{field: value}))


def test_the_documented_charset_passes(event):
    validate_envelope(resealed(event, action="mcp.tool:search@v2+beta_1-x", resource="a b/c"))


def test_nesting_is_bounded_everywhere():
    nested: object = 1
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    canonicalize({"x": nested})  # MAX_DEPTH containers: within the bound
    with pytest.raises(NotCanonicalizable, match="nested deeper than"):
        canonicalize({"x": [nested]})
    deep: object = 1
    for _ in range(5000):
        deep = {"d": deep}
    with pytest.raises(NotCanonicalizable, match="nested deeper than"):
        canonicalize(deep)


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "drop table;"},
        {"action": "a/b"},
        {"action": ""},
        {"user_id": "bob\x00"},
        {"resource": "line\nbreak"},
        {"details": {"deep": "DEEP"}},
    ],
)
def test_record_audit_refuses_what_the_portal_would(tmp_path, fields):
    if fields.get("details") == {"deep": "DEEP"}:
        nested: object = 1
        for _ in range(MAX_DEPTH + 1):
            nested = [nested]
        fields = {"details": {"deep": nested}}
    with JournalWriter(tmp_path / "a.jsonl", "agent-7") as journal:
        with pytest.raises(InvalidEvent):
            journal.append(fields.pop("action", "tool_execute"), "success", **fields)
        assert journal.append("tool_execute", "success")["seq"] == 0


@pytest.mark.parametrize("agent_id", ["", "a/b", "agent 7"])
def test_a_journal_refuses_an_agent_id_outside_the_charset(tmp_path, agent_id):
    with pytest.raises(ValueError, match="agent_id"):
        JournalWriter(tmp_path / "a.jsonl", agent_id)
