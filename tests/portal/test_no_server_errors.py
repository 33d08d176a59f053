"""Each input that used to answer HTTP 500 answers a 4xx with a sentence instead."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.django_db


def tampered_cursor(position: str) -> str:
    return base64.b64encode(f"o=0&p={position}".encode()).decode()


def sentence(response) -> str:
    body = response.json()
    text = body.get("detail") or body.get("reason") or next(iter(body.values()))
    if isinstance(text, list):
        text = text[0]
    assert isinstance(text, str) and len(text.split()) >= 3, body
    return text


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/events/?cursor={cursor}",
        "/api/v1/checkpoints/?cursor={cursor}",
        "/api/v1/streams/s-1/verifications/?cursor={cursor}",
    ],
)
@pytest.mark.parametrize("position", ["notadate", "9999-99-99", "\x00", "-1e999"])
def test_a_tampered_cursor_is_a_client_error(api_client, url, position):
    response = api_client.get(url.format(cursor=tampered_cursor(position)))
    assert 400 <= response.status_code < 500, response.content[:300]
    sentence(response)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/events/?stream=a%00b",
        "/api/v1/events/?agent_id=%00",
        "/api/v1/streams/a%00b/",
        "/api/v1/streams/a%00b/verifications/",
        "/api/v1/evidence/?agent_id=a%00b&since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z",
        "/streams/a%00b/",
    ],
)
def test_a_nul_in_an_id_is_a_client_error(api_client, url):
    response = api_client.get(url)
    assert response.status_code == 400, response.content[:300]
    assert b"NUL" in response.content


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-99-01T00:00:00Z&until=2026-12-01T00:00:00Z",
        "since=99999-01-01T00:00:00Z&until=2026-12-01T00:00:00Z",
        "since=9999-12-31T23:59:59-23:59&until=2026-12-01T00:00:00Z",
        "since=0001-01-01T00:00:00+23:59&until=2026-12-01T00:00:00Z",
        "since=2026-12-01T00:00:00Z&until=2026-01-01T00:00:00Z",
    ],
)
def test_an_evidence_range_that_is_no_range_is_a_client_error(api_client, signing_key, query):
    response = api_client.get(f"/api/v1/evidence/?agent_id=agent-7&{query}")
    assert response.status_code == 400, response.content[:300]
    sentence(response)


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-99-01T00:00:00Z",
        "until=",
        "result=",
        "page_size=null",
        "page_size=0",
        "page_size=100000",
        "result=maybe",
    ],
)
def test_a_bad_events_filter_is_a_client_error(api_client, query):
    response = api_client.get(f"/api/v1/events/?{query}")
    assert response.status_code == 400, (query, response.content[:300])
    sentence(response)


@pytest.mark.parametrize("bound", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_bound_past_the_end_of_time_is_held_there(api_client, bound):
    response = api_client.get("/api/v1/events/", {"since": bound})
    assert response.status_code == 200, response.content[:300]
