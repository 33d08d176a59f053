"""Pages, links, the API and exports stay up whatever is already stored: rows admitted
before the charset and ts checks existed (ts 9999-12-31, stream ids with '/' or empty)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from obsportal.ingest.models import AuditEvent, Stream

pytestmark = pytest.mark.django_db

ODD_STREAMS = ["agent-7/journal", "", "with space", "evidence-x"]


@pytest.fixture
def oddities(db):
    """One stored row per odd stream id, the first at the end of time."""
    rows = []
    for index, stream_id in enumerate(ODD_STREAMS):
        Stream.objects.create(id=stream_id, agent_id="agent-7", head_seq=0, head_hash="a" * 64)
        ts = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) if index == 0 else None
        rows.append(
            AuditEvent.objects.create(
                event_id=uuid.uuid4(),
                stream_id=stream_id,
                seq=0,
                ts=ts or datetime(2026, 11, 1, 12, index, tzinfo=UTC),
                agent_id="agent-7",
                action="tool_execute",
                result="success",
                details={},
                pii_commitments={},
                prev_hash="0" * 64,
                hash="a" * 64,
            )
        )
    return rows


@pytest.fixture
def officer(client, django_user_model):
    from tests.factories import with_role

    client.force_login(with_role(django_user_model.objects.create_user("officer")))
    return client


def test_the_pages_list_every_odd_row(officer, oddities):
    events = officer.get("/events/")
    assert events.status_code == 200
    assert "9999-12-31" in events.content.decode()
    streams = officer.get("/streams/")
    assert streams.status_code == 200
    page = streams.content.decode()
    assert "agent-7/journal" in page and "with space" in page


@pytest.mark.parametrize("stream_id", ODD_STREAMS)
def test_each_odd_stream_opens_in_the_portal_and_the_api(officer, api_client, oddities, stream_id):
    from django.urls import reverse

    page = officer.get(reverse("integrity:stream", args=[stream_id]))
    assert page.status_code == 200, stream_id
    api = api_client.get(reverse("stream-detail", args=[stream_id]))
    assert api.status_code == 200, stream_id
    assert api.json()["id"] == stream_id
    if stream_id:  # an empty filter value means no filter, as for every field
        listed = api_client.get("/api/v1/events/", {"stream": stream_id})
        assert [e["stream"] for e in listed.json()["results"]] == [stream_id]


def test_the_events_api_and_its_cursor_walk_past_the_end_of_time(api_client, oddities):
    first = api_client.get("/api/v1/events/?page_size=1")
    assert first.status_code == 200
    assert first.json()["results"][0]["ts"] == "9999-12-31T23:59:59.999999Z"
    second = api_client.get(first.json()["next"])
    assert second.status_code == 200
    assert len(second.json()["results"]) == 1


def test_the_links_of_an_event_at_the_end_of_time_are_still_made(oddities):
    from obsportal.telemetry.links import dashboard_url

    url = dashboard_url("agents", "agent-7", around=oddities[0].ts)
    assert "from=" in url and "to=" in url


def test_the_evidence_export_of_odd_rows_is_made(api_client, oddities, signing_key):
    response = api_client.get(
        "/api/v1/evidence/",
        {"agent_id": "agent-7", "since": "2026-01-01T00:00:00Z", "until": "9999-12-31T00:00:00Z"},
    )
    assert response.status_code < 500, response.content[:300]
