"""Real incidents made through the real ingest door: a fork (two different events at one
seq) and a gap (events posted ahead of a missing one)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from agents_sdk.audit.chain import compute_hash, hashed_body
from tests.factories import agent_credential, journal_events


def rewritten(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Another event at the same seq and link, validly hashed: what a forking writer sends."""
    other = {k: v for k, v in event.items() if k != "pii"}
    other.update(changes)
    other["hash"] = compute_hash(hashed_body(other), other["prev_hash"])
    return other


def post_batch(client, events: list[dict[str, Any]], token: str):
    """POST /api/v1/ingest with a Django test client."""
    return client.generic(
        "POST",
        "/api/v1/ingest",
        json.dumps({"events": events}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def incidents_made(db, tmp_path, signing_key):
    """agent-a: a stream forked at seq 1 over HTTP ingest; agent-b: a stream with a gap."""
    made = {}
    http = Client()
    for agent in ("agent-a", "agent-b"):
        made[f"{agent}-token"] = agent_credential(agent)
        made[agent] = journal_events(tmp_path, agent, count=4, name=f"{agent}.jsonl")
    a, b = made["agent-a"], made["agent-b"]
    assert post_batch(http, a, made["agent-a-token"]).status_code == 200
    made["fork"] = rewritten(a[1], action="rewritten", result="denied")
    assert post_batch(http, [made["fork"]], made["agent-a-token"]).status_code == 409
    assert post_batch(http, b[:1], made["agent-b-token"]).status_code == 200
    assert post_batch(http, b[2:], made["agent-b-token"]).json()["pending"] == 2
    from obsportal.integrity.checkpoints import sign_checkpoint

    made["checkpoint"] = sign_checkpoint()
    return made
