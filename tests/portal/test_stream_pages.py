"""The streams pages: status and located breaks, vanished streams, the evidence export."""

from __future__ import annotations

import json

from obsportal.integrity.verification import verify_streams
from tests.factories import with_role
from tests.support.chains import superuser_sql


def test_the_streams_pages_show_status_and_the_located_break(two_chains, client, django_user_model):
    stream = two_chains["a"][0]["stream"]
    assert client.get("/streams/").status_code == 302  # login required
    with_role(django_user_model.objects.create_user("officer", password="pw-officer-123"))
    client.login(username="officer", password="pw-officer-123")
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 5", (stream,)),
    )
    verify_streams()
    page = client.get("/streams/").content.decode()
    assert stream in page and "broken" in page and "problems found" in page
    assert 'href="/streams/"' in client.get("/").content.decode()  # the nav link
    detail = client.get(f"/streams/{stream}/").content.decode()
    assert "seq 5 missing before event" in detail
    assert "5..5" in detail  # the gap column
    assert client.get("/streams/unknown-stream/").status_code == 404


def test_a_vanished_stream_is_listed_on_the_streams_page(two_chains, client, django_user_model):
    stream = two_chains["a"][0]["stream"]
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s", (stream,)),
        ("DELETE FROM ingest_stream WHERE id = %s", (stream,)),
    )
    verify_streams()
    with_role(django_user_model.objects.create_user("officer", password="pw-officer-123"))
    client.login(username="officer", password="pw-officer-123")
    page = client.get("/streams/").content.decode()
    assert "Streams gone from the database" in page and stream in page
    detail = client.get(f"/streams/{stream}/").content.decode()
    assert "known from signed checkpoints only" in detail and "truncated or deleted" in detail


def test_the_portal_exports_the_same_bundle(two_chains, client, django_user_model):
    with_role(django_user_model.objects.create_user("officer", password="pw-officer-123"))
    client.login(username="officer", password="pw-officer-123")
    page = client.get("/evidence/")
    assert page.status_code == 200 and b"Download bundle" in page.content
    response = client.get("/evidence/", {"export": "1", "agent_id": "agent-7"})
    assert response.status_code == 200
    header = json.loads(b"".join(response.streaming_content).split(b"\n", 1)[0])
    assert header["selected"] == 20
    bad = client.get("/evidence/", {"export": "1", "agent_id": "a", "since": "yesterday"})
    assert bad.status_code == 400 and b"ISO 8601" in bad.content
