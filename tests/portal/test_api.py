import pytest

from obsportal.ingest.services import admit_batch
from tests.factories import journal_events, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3, name="a.jsonl", action="llm_call")
    events += journal_events(
        tmp_path,
        agent,
        count=2,
        name="b.jsonl",
        action="tool_execute",
        result="denied",
        user_id="bob",
    )
    assert admit_batch({"token": token, "events": events}).admitted == 5
    return events


def test_request_without_a_valid_token_is_refused(client, stored):
    assert client.get("/api/v1/events/").status_code in (401, 403)
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401
    assert "Invalid token" in response.json()["detail"]


def test_events_are_listed_newest_first_in_envelope_form(api_client, stored):
    response = api_client.get("/api/v1/events/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [e["event_id"] for e in results] == [e["event_id"] for e in reversed(stored)]
    by_id = {e["event_id"]: e for e in stored}
    for row in results:
        assert row == {k: v for k, v in by_id[row["event_id"]].items() if k != "pii"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=llm_call", 3),
        ("result=denied", 2),
        ("user_id=bob", 2),
        ("agent_id=agent-7", 5),
        ("agent_id=nobody", 0),
        ("since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z", 5),
        ("until=2000-01-01T00:00:00Z", 0),
    ],
)
def test_filters(api_client, stored, query, expected):
    assert len(api_client.get(f"/api/v1/events/?{query}").json()["results"]) == expected


def test_cursor_pagination_walks_every_event_once(api_client, stored):
    seen, url = [], "/api/v1/events/?page_size=2"
    while url:
        page = api_client.get(url).json()
        seen += [e["event_id"] for e in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(e["event_id"] for e in stored)


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


def test_openapi_schema_is_served(api_client):
    response = api_client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/events/" in response.content


def test_events_page_requires_login_and_lists_events(client, django_user_model, stored):
    assert client.get("/").status_code == 302
    with_role(django_user_model.objects.create_user("officer", password="pw-officer-123"))
    client.login(username="officer", password="pw-officer-123")
    page = client.get("/").content.decode()
    assert "Latest audit events" in page and "llm_call" in page and "denied" in page


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["database"] == "ok"


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
    assert AuditEvent.objects.count() == 1
    assert list(RejectedBatch.objects.order_by("id").values_list("reason_code", flat=True)) == [
        code for *_, code in cases
    ]


def test_http_ingest_refuses_a_body_over_the_byte_limit(client, agent_token, monkeypatch):
    from obsportal.ingest import api

    monkeypatch.setattr(api, "MAX_BATCH_BYTES", 100)
    _, token = agent_token
    response = _post(client, '{"events": [' + "1," * 100 + "1]}", token)
    assert response.status_code == 413 and response.json()["reason_code"] == "oversized"
