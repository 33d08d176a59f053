"""A compliance officer signs in with a real browser and reads the latest audit events."""

from __future__ import annotations

import pytest

from obsportal.ingest.services import admit_batch
from tests.factories import journal_events, with_role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def officer(django_user_model):
    with_role(django_user_model.objects.create_user("officer", password="pw-officer-123"))
    return "officer", "pw-officer-123"


def test_officer_signs_in_and_sees_the_latest_events(
    page, live_server, officer, agent_token, tmp_path
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=4, action="data_access", result="denied")
    assert admit_batch({"token": token, "events": events}).admitted == 4

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", officer[0])
    page.fill("#id_password", officer[1])
    page.click("button[type=submit]")

    page.wait_for_selector("h1:has-text('Overview')")
    page.click("header nav a:text-is('Events')")
    page.wait_for_selector("h1:has-text('Audit events')")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 4
    assert rows.first.locator("td").nth(3).inner_text() == "denied"
    hashes = {
        rows.nth(i).locator(".cut[data-full]").last.get_attribute("data-full") for i in range(4)
    }
    assert hashes == {e["hash"] for e in events}
    page.screenshot(path=str(tmp_path / "events.png"), full_page=True)

    page.click("text=Log out")
    page.wait_for_url("**/accounts/login/")


def test_wrong_password_shows_a_readable_error(page, live_server, officer):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", officer[0])
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert "did not match" in page.inner_text("main")
