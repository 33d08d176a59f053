"""The HTTP ingest endpoint: the agent token, and a verdict with a status for bad input."""

import pytest

from tests.factories import journal_events

pytestmark = pytest.mark.django_db


def test_http_ingest_takes_the_agent_token(client, agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    refused = client.post("/api/v1/ingest", {"events": events}, content_type="application/json")
    assert refused.status_code == 401
    ok = client.post(
        "/api/v1/ingest",
        {"events": events},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert ok.status_code == 200 and ok.json()["admitted"] == 2


def _post(client, body, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.generic(
        "POST", "/api/v1/ingest", body, content_type="application/json", **headers, **extra
    )


def test_http_ingest_refuses_bad_input_with_a_reason_and_stores_nothing(
    client, agent_token, tmp_path
):
    import json

    from agents_sdk.audit.chain import compute_hash, hashed_body
    from obsportal.ingest.models import AuditEvent, RejectedBatch

    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    assert _post(client, json.dumps({"events": events[:1]}), token).status_code == 200
    strangers = journal_events(tmp_path, "someone-else", count=1, name="other.jsonl")
    fork = dict(events[0], action="rewritten")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    cases = [
        ('{"events": [', token, 400, "malformed_json"),
        (json.dumps({"events": events[1:]}), "agt_wrong", 401, "bad_token"),
        (json.dumps({"events": strangers}), token, 403, "wrong_agent"),
        (json.dumps({"events": [dict(events[1], action="x")]}), token, 400, "bad_hash"),
        (json.dumps({"events": [fork]}), token, 409, "fork"),
        (json.dumps({"events": [events[1]] * 5001}), token, 413, "oversized"),
        (json.dumps({"nothing": 1}), token, 400, "malformed"),
    ]
    for body, credential, status, code in cases:
        response = _post(client, body, credential)
        assert (response.status_code, response.json()["reason_code"]) == (status, code), body[:60]
        assert response.json()["reason"]
    assert AuditEvent.objects.filter(agent_id=agent).count() == 1  # the fork is on the trail
    # A request without a live token is refused from its headers: nothing of it is kept.
    assert list(RejectedBatch.objects.order_by("id").values_list("reason_code", flat=True)) == [
        code for *_, code in cases if code != "bad_token"
    ]


def test_http_ingest_refuses_a_body_over_the_byte_limit(client, agent_token, settings):
    settings.OBSPORTAL_INGEST_MAX_BYTES = 100
    _, token = agent_token
    response = _post(client, '{"events": [' + "1," * 100 + "1]}", token)
    assert response.status_code == 413 and response.json()["reason_code"] == "oversized"
