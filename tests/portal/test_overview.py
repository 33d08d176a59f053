"""The overview: the period's figures from the hourly counts, integrity from heads and
the latest run and checkpoint, and the retention slot; a bounded number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def figure(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', html).group(1).strip()


def test_the_periods_figures(officer, searchable):
    html = officer.get("/").content.decode()
    assert figure(html, "total") == "35"  # the trail's own events are not agents' events
    events = searchable["agent-7"] + searchable["agent-8"]
    denied = sum(e["result"] == "denied" for e in events)
    failed = sum(e["result"] in ("failure", "error") for e in events)
    assert figure(html, "denied") == f"{100 * denied / 35:.1f}%"
    assert figure(html, "failed") == f"{100 * failed / 35:.1f}%"
    assert figure(html, "agents-active") == "2"
    # retention: nothing configured by this test, and the overview says so from the app
    assert "0 active policies; 0 legal holds in force; no retention run yet" in html
    assert "obsportal-agents?from=" in html and "/search?start=" in html
    older = officer.get("/?period=24h&until=2020-01-01T00:00:00Z").content.decode()
    assert figure(older, "total") == "0" and "No event in this period" in older


def test_integrity_at_a_glance(officer, searchable, signing_key):
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.verification import verify_streams

    html = officer.get("/").content.decode()
    assert "No verification has run yet" in html and "No checkpoint signed yet" in html
    verify_streams(trigger="test")
    sign_checkpoint()
    html = officer.get("/").content.decode()
    assert figure(html, "verified") == "2" and figure(html, "broken") == "0"
    assert figure(html, "incidents") == "0" and figure(html, "dead-letters").startswith("0")
    assert re.search(r'id="checkpoint-age">\d+ s<', html)


def test_a_scoped_auditor_sees_only_their_agents(client, django_user_model, searchable):
    from tests.factories import with_role

    client.force_login(
        with_role(django_user_model.objects.create_user("n"), "auditor", scope_agents=["agent-8"])
    )
    html = client.get("/").content.decode()
    assert figure(html, "total") == "5" and figure(html, "agents-active") == "1"


def test_the_overview_does_not_count_rows(officer, searchable):
    officer.get("/")
    with CaptureQueriesContext(connection) as queries:
        assert officer.get("/?period=30d").status_code == 200
    reads = [q["sql"] for q in queries if q["sql"].lstrip().startswith("SELECT")]
    touching = [sql for sql in reads if "ingest_auditevent" in sql]
    assert touching == [], touching
    assert len(queries) < 30


@pytest.mark.parametrize("query", ["period=1y", "until=yesterday", "until=%00"])
def test_a_bad_period_is_a_400(officer, searchable, query):
    assert officer.get(f"/?{query}").status_code == 400
