"""The officer's pages in real Chromium: the overview, searching by each filter and a
combination, paging both ways, opening an event and walking its chain, the export
downloaded and equal to the API's rows; screenshots at desktop and phone width."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.factories import agent_credential, with_role
from tests.support.searchable import TRACE, record

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-officer-browser-1"
# Where the screenshots go: a directory of the run's choosing, else the test's tmp_path.
SHOTS = os.environ.get("OBSPORTAL_SCREENSHOTS")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def world(tmp_path, django_user_model, settings):
    from obsportal.ingest.services import admit_batch

    settings.OBSPORTAL_EXPORT_DIR = tmp_path / "exports"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    events = {}
    for agent, count in (("agent-7", 30), ("agent-8", 5)):
        token = agent_credential(agent)
        events[agent] = record(tmp_path, agent, count, f"{agent}.jsonl")
        assert admit_batch({"token": token, "events": events[agent]}).admitted == count
    with_role(django_user_model.objects.create_user("officer", password=PASSWORD))
    return events


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "officer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("header .who")


def shot(page, tmp_path: Path, name: str) -> None:
    directory = Path(SHOTS) if SHOTS else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(directory / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(VIEWPORTS["desktop"])


def submit(page, selector: str = "#search button[type=submit]") -> None:
    with page.expect_navigation():
        page.click(selector)


def listed(page) -> list[str]:
    return page.locator("#results tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.eventId)"
    )


def test_the_overview_and_the_search_by_each_filter(page, live_server, world, tmp_path):
    base = live_server.url
    sign_in(page, base)
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("#total").inner_text() == "35"
    assert page.locator("#retention").inner_text().startswith("0 active policies; 0 legal holds")
    shot(page, tmp_path, "overview")

    page.click("header nav a:text-is('Events')")
    page.wait_for_selector("#results")
    shot(page, tmp_path, "events")
    a = world["agent-7"]
    fields = {
        "#f-agent": ("agent_id", "agent-8"),
        "#f-action": ("action", "llm_call"),
        "#f-user": ("user_id", "bob"),
        "#f-resource": ("resource", "crm://tickets/3"),
        "#f-stream": ("stream", a[0]["stream"]),
        "#f-trace": ("trace_id", TRACE),
        "#f-since": ("since", a[25]["ts"]),
        "#f-until": ("until", a[3]["ts"]),
    }
    for selector, (name, value) in fields.items():
        page.goto(f"{base}/events/")
        page.fill(selector, value)
        submit(page)
        assert f"{name}=" in page.url  # the search is in the URL
        api = page.request.get(f"{base}/api/v1/events/?{urlencode({name: value})}&page_size=1000")
        expected = [e["event_id"] for e in api.json()["results"]]
        assert listed(page) == expected[:50] and expected, name
    page.goto(f"{base}/events/")
    page.select_option("#f-result", "denied")
    submit(page)
    assert set(page.locator("#results tbody td:nth-child(4)").all_inner_texts()) == {"denied"}

    # a combination, bookmarked and reopened
    page.goto(f"{base}/events/")
    page.fill("#f-agent", "agent-7")
    page.fill("#f-user", "alice")
    page.select_option("#f-result", "denied")
    submit(page)
    bookmarked = page.url
    combined = listed(page)
    expected = [
        e["event_id"] for e in reversed(a) if e["user_id"] == "alice" and e["result"] == "denied"
    ]
    assert combined == expected and combined
    page.goto(bookmarked)
    assert listed(page) == combined
    assert page.locator("#f-user").input_value() == "alice"
    shot(page, tmp_path, "events-filtered")

    # hostile parameters: a readable 400, not a crash
    response = page.goto(f"{base}/events/?since=2026-99-01T00:00:00Z&page_size=0")
    assert response.status == 400
    assert "This search cannot be run" in page.inner_text("main")


def test_paging_both_ways_and_the_chain(page, live_server, world, tmp_path):
    base = live_server.url
    sign_in(page, base)
    page.goto(f"{base}/events/?agent_id=agent-7&page_size=25")
    first = listed(page)
    submit(page, "a[rel=next]")
    second = listed(page)
    assert len(first) == 25 and len(second) == 5
    assert first + second == [e["event_id"] for e in reversed(world["agent-7"])]
    submit(page, "a[rel=prev]")
    assert listed(page) == first
    page.select_option("#f-order", "oldest")
    submit(page)
    assert listed(page)[:25] == [e["event_id"] for e in world["agent-7"]][:25]

    # open an event from the results, then walk its chain both ways
    target = world["agent-7"][10]
    page.goto(f"{base}/events/?agent_id=agent-7&order=oldest&page_size=25")
    submit(page, f"tr[data-event-id='{target['event_id']}'] a.open-event")
    page.wait_for_selector("#prev-event")
    assert target["hash"] in page.inner_text("main")
    assert page.locator("time[data-local] .local").count() >= 1  # the local time, by portal.js
    shot(page, tmp_path, "event-detail")
    submit(page, "#next-event")
    assert world["agent-7"][11]["hash"] in page.inner_text("main")
    submit(page, "#prev-event")
    submit(page, "#prev-event")
    assert world["agent-7"][9]["hash"] in page.inner_text("main")
    # a cut value shows in full on a click
    page.goto(f"{base}/events/?agent_id=agent-7")
    cut = page.locator("#results .cut").first
    full = cut.get_attribute("data-full")
    cut.click()
    assert cut.inner_text() == full


def test_the_export_downloaded_equals_the_apis_rows(page, live_server, world, tmp_path):
    base = live_server.url
    sign_in(page, base)
    query = "agent_id=agent-7&user_id=alice"
    page.goto(f"{base}/events/?{query}")
    submit(page, "button[name=format][value=json]")
    page.wait_for_selector("#exports")
    page.reload()
    row = page.locator("#exports tbody tr").first
    row.locator("a.download").wait_for()
    shot(page, tmp_path, "exports")
    with page.expect_download() as download_info:
        row.locator("a.download").click()
    path = download_info.value.path()
    rows = json.loads(Path(path).read_bytes())
    api = page.request.get(f"{base}/api/v1/events/?{query}&page_size=1000").json()["results"]
    assert rows == api and len(rows) == 15

    # the CSV of the same search holds the same events
    page.goto(f"{base}/events/?{query}")
    submit(page, "button[name=format][value=csv]")
    page.wait_for_selector("#exports")
    page.reload()
    with page.expect_download() as download_info:
        page.locator("#exports tbody tr").first.locator("a.download").click()
    lines = Path(download_info.value.path()).read_text().splitlines()
    assert len(lines) == 1 + len(api)
    assert [line.split(",")[1] for line in lines[1:]] == [e["event_id"] for e in api]


def test_empty_states(page, live_server, django_user_model, tmp_path):
    with_role(django_user_model.objects.create_user("officer", password=PASSWORD))
    base = live_server.url
    sign_in(page, base)
    assert "No event in this period" in page.inner_text("main")
    shot(page, tmp_path, "overview-empty")
    page.goto(f"{base}/events/")
    assert "No audit events yet" in page.inner_text("main")
    page.goto(f"{base}/events/exports/")
    assert "No exports yet" in page.inner_text("main")
