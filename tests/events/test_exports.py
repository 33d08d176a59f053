"""Exports of a search: recorded on the trail before they are built, built by the task
into a file whose rows are the API's for the same filter, downloadable by their requester only."""

from __future__ import annotations

import csv
import io
import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.OBSPORTAL_EXPORT_DIR = tmp_path / "exports"


def requested(client, query: str, fmt: str, capture) -> None:
    """Request an export and build it as the queued task would."""
    from obsportal.events.exports import build_event_export
    from obsportal.events.models import EventExport

    with capture(execute=False):
        assert client.post("/events/exports/", {"query": query, "format": fmt}).status_code == 302
    build_event_export(EventExport.objects.latest("id").pk)


def api_rows(client, query: str) -> list[dict]:
    return client.get(f"/api/v1/events/?{query}&page_size=1000").json()["results"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_holds_the_apis_rows_for_the_same_filter(
    officer, searchable, fmt, django_capture_on_commit_callbacks
):
    from obsportal.events.exports import build_event_export
    from obsportal.events.models import EventExport
    from obsportal.ingest.models import AuditEvent

    query = "agent_id=agent-7&result=denied&user_id=alice"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = officer.post("/events/exports/", {"query": query, "format": fmt})
    assert response.status_code == 302
    export = EventExport.objects.get()
    assert export.status == "queued"  # requested, not yet built ...
    requested = AuditEvent.objects.filter(agent_id="obsportal", action="events.export").get()
    assert requested.details["export"] == export.pk  # ... and already on the trail
    assert requested.details["filters"]["user_id"] == "(personal data, in the sidecar)"
    assert len(queued) == 1  # the build, queued once the request committed
    build_event_export(export.pk)  # what the queued task runs (a worker, in production)
    export.refresh_from_db()
    assert export.status == "done", export.error

    download = officer.get(f"/events/exports/{export.pk}/download")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    expected = api_rows(officer, query)
    assert expected and export.rows == len(expected)
    if fmt == "json":
        assert json.loads(body) == expected
    else:
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert [r["event_id"] for r in rows] == [e["event_id"] for e in expected]
        assert [r["hash"] for r in rows] == [e["hash"] for e in expected]
    downloaded = AuditEvent.objects.filter(
        agent_id="obsportal", action="events.export_download"
    ).get()
    assert downloaded.details["sha256"] == export.sha256


def test_a_refused_query_queues_nothing(officer, searchable):
    from obsportal.events.models import EventExport

    response = officer.post("/events/exports/", {"query": "since=nonsense", "format": "csv"})
    assert response.status_code == 400 and b"since" in response.content
    assert officer.post("/events/exports/", {"query": "", "format": "xml"}).status_code == 400
    assert not EventExport.objects.exists()


def test_only_the_requester_downloads_and_the_scope_holds(
    officer, auditor, searchable, django_user_model, django_capture_on_commit_callbacks
):
    from django.test import Client

    from obsportal.events.models import EventExport
    from tests.factories import with_role

    requested(officer, "", "json", django_capture_on_commit_callbacks)
    export = EventExport.objects.get()
    assert auditor.get(f"/events/exports/{export.pk}/download").status_code == 404
    narrow = Client()
    narrow.force_login(
        with_role(django_user_model.objects.create_user("n"), "auditor", scope_agents=["agent-8"])
    )
    requested(narrow, "", "json", django_capture_on_commit_callbacks)
    mine = EventExport.objects.filter(requested_by__username="n").get()
    rows = json.loads(b"".join(narrow.get(f"/events/exports/{mine.pk}/download").streaming_content))
    assert {r["agent_id"] for r in rows} == {"agent-8"} and len(rows) == 5
