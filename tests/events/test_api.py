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


def test_a_busy_agent_quiet_lately_lists_all_its_events_newest_first(api_client, tmp_path):
    """The listing bounded by the agent's newest event (issue #11) shows the same rows."""
    from obsportal.accounts.services import issue_agent_token
    from obsportal.ingest.models import AuditEvent
    from obsportal.ingest.services import admit_batch
    from tests.factories import journal_events

    for agent, count in (("busy", 7), ("other", 5)):  # the busy agent first: older events
        token = issue_agent_token(agent)
        events = journal_events(tmp_path, agent, count=count, name=f"{agent}.jsonl")
        assert admit_batch({"token": token, "events": events}).admitted == count
    expected = list(
        AuditEvent.objects.filter(agent_id="busy")
        .order_by("-ts", "-id")
        .values_list("event_id", flat=True)
    )
    seen, url = [], "/api/v1/events/?agent_id=busy&page_size=2"
    while url:
        page = api_client.get(url).json()
        seen += [e["event_id"] for e in page["results"]]
        url = page["next"]
    assert seen == [str(e) for e in expected]
    middle = AuditEvent.objects.filter(agent_id="busy").order_by("ts")[3].ts
    until = middle.isoformat().replace("+00:00", "Z")
    bounded = api_client.get(f"/api/v1/events/?agent_id=busy&until={until}").json()["results"]
    assert [e["event_id"] for e in bounded] == [str(e) for e in expected[-3:]]
    assert api_client.get("/api/v1/events/?agent_id=nobody").json()["results"] == []
    for garbage in ("2026-99-01T00:00:00Z", "not-a-time", "2026-01-01T00:00:00"):
        answer = api_client.get(f"/api/v1/events/?agent_id=busy&until={garbage}")
        assert answer.status_code in (200, 400), (garbage, answer.status_code)
