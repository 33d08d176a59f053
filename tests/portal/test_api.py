import pytest

from obsportal.ingest.services import admit_batch
from tests.factories import journal_events

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
    django_user_model.objects.create_user("officer", password="pw-officer-123")
    client.login(username="officer", password="pw-officer-123")
    page = client.get("/").content.decode()
    assert "Latest audit events" in page and "llm_call" in page and "denied" in page


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["database"] == "ok"
