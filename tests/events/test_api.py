"""The events API: token auth, envelope form, newest first, filters, cursor pagination."""

import pytest

pytestmark = pytest.mark.django_db


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
