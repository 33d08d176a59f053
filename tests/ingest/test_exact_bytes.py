"""Exact bytes: what the portal stores, parks and serves reproduces the hashed bytes.

PostgreSQL's jsonb rewrites numbers (1e21 becomes 1000000000000000000000); it is a
query aid only, never the source an event is served or re-hashed from.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agents_sdk import JournalWriter
from obsportal.ingest.models import AuditEvent, Stream

pytestmark = pytest.mark.django_db(transaction=True)

HARD_DETAILS = [
    {"big": 1e21},
    {"tiny": 1e-7, "sub": 5e-324, "neg0": -0.0, "safe": 2**53 - 1},
    {"\U0001f600key": "\u2028\u2029", "é": [1.5, {"z": None, "a": True}]},
]


def journal_lines(tmp_path: Path, agent: str, details: list[dict]) -> list[bytes]:
    """The journal's own lines (no personal data, so no sidecar): the bytes to reproduce."""
    path = tmp_path / "exact.jsonl"
    with JournalWriter(path, agent) as journal:
        for item in details:
            journal.append("tool_execute", "success", details=item)
    return path.read_bytes().splitlines()


def post_lines(client, token: str, lines: list[bytes]):
    body = b'{"events":[' + b",".join(lines) + b"]}"
    return client.generic(
        "POST",
        "/api/v1/ingest",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_1e21_out_of_order_over_http_is_admitted_and_served_byte_for_byte(
    client, api_client, agent_token, tmp_path
):
    agent, token = agent_token
    lines = journal_lines(tmp_path, agent, [{"big": 1e21}, {"big": 1e21, "n": 2}])
    first = post_lines(client, token, lines[1:])
    assert first.status_code == 200 and first.json()["pending"] == 1
    second = post_lines(client, token, lines[:1])  # fills the gap; parked seq 1 follows it
    assert second.status_code == 200, second.content
    assert second.json()["admitted"] == 2
    stream = orjson.loads(lines[0])["stream"]
    assert Stream.objects.get(pk=stream).head_seq == 1
    served = api_client.get("/api/v1/events/", {"stream": stream})
    assert served.status_code == 200
    for line in lines:
        assert line in served.content
    detail = api_client.get(f"/api/v1/events/{orjson.loads(lines[1])['event_id']}/")
    assert detail.content == lines[1]


def test_hard_values_are_stored_as_hashed_and_verify(agent_token, tmp_path, signing_key):
    from obsportal.ingest.services import admit_batch
    from obsportal.integrity.verification import verify_streams

    agent, token = agent_token
    lines = journal_lines(tmp_path, agent, HARD_DETAILS)
    events = [orjson.loads(line) for line in lines]
    assert admit_batch({"token": token, "events": events[1:]}).pending == 2
    assert admit_batch({"token": token, "events": events[:1]}).admitted == 3
    assert AuditEvent.objects.count() == 3
    run = verify_streams()
    assert run.status == "verified", list(run.streams.values("first_break"))
