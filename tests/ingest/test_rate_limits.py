"""Per-credential limits on HTTP ingest, counted in Redis: 429 with Retry-After, and a metric."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import REGISTRY

from obsportal.accounts.services import issue_agent_token
from tests.factories import journal_events

pytestmark = pytest.mark.django_db


def post(client, token: str, body: bytes):
    return client.generic(
        "POST",
        "/api/v1/ingest",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def throttled(agent: str, limit: str) -> float:
    value = REGISTRY.get_sample_value(
        "obsportal_ingest_throttled_total", {"agent_id": agent, "limit": limit}
    )
    return value or 0.0


def test_a_credential_over_its_request_rate_gets_429_with_retry_after(client, settings, tmp_path):
    settings.OBSPORTAL_INGEST_RATE_LIMIT = "3/60"
    token = issue_agent_token("busy-agent")
    events = journal_events(tmp_path, "busy-agent", count=1)
    body = orjson.dumps({"events": events})
    before = throttled("busy-agent", "requests")
    assert [post(client, token, body).status_code for _ in range(3)] == [200, 200, 200]
    refused = post(client, token, body)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["reason_code"] == "rate_limited"
    assert "3 requests per 60 s" in refused.json()["reason"]
    assert throttled("busy-agent", "requests") == before + 1
    # Another credential has its own allowance.
    other = issue_agent_token("quiet-agent")
    quiet = journal_events(tmp_path, "quiet-agent", count=1, name="quiet.jsonl")
    assert post(client, other, orjson.dumps({"events": quiet})).status_code == 200


def test_a_credential_over_its_byte_budget_gets_429(client, settings, tmp_path):
    settings.OBSPORTAL_INGEST_RATE_LIMIT = "1000/60"
    settings.OBSPORTAL_INGEST_BYTES_PER_WINDOW = 3000
    token = issue_agent_token("bulky-agent")
    events = journal_events(tmp_path, "bulky-agent", count=4)
    body = orjson.dumps({"events": events})
    assert 1500 < len(body) <= 3000
    assert post(client, token, body).status_code == 200
    second = post(client, token, body)
    assert second.status_code == 429
    assert int(second["Retry-After"]) >= 1
    assert "bytes per 60 s" in second.json()["reason"]
    assert throttled("bulky-agent", "bytes") >= 1


def test_a_credential_may_not_send_a_body_over_the_size_limit(client, settings, agent_token):
    settings.OBSPORTAL_INGEST_MAX_BYTES = 1000
    _agent, token = agent_token
    refused = post(client, token, b'{"events": [' + b" " * 2000 + b"]}")
    assert refused.status_code == 413
    assert refused.json()["reason_code"] == "oversized"
    assert "1000" in refused.json()["reason"]
