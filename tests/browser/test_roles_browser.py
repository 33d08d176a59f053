"""Each role signs in with a real browser: the menu it sees, and what it is refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.people import PASSWORD, person

pytestmark = pytest.mark.django_db(transaction=True)

COMMON = ["Overview", "Events", "Streams", "Incidents", "Checkpoints", "Dead letters", "Evidence"]
MENU = {
    # Subject requests are the compliance officer's (the auditor reads their deadlines), not the
    # operator's: an administrator has no right to one person's data.
    "administrator": [
        *COMMON,
        "Trail",
        "Retention",
        "Reports",
        "Users",
        "Agent credentials",
        "API",
    ],
    "compliance_officer": [*COMMON, "Trail", "Retention", "Subject requests", "Reports", "API"],
    "auditor": [*COMMON, "Trail", "Retention", "Subject requests", "Reports", "API"],
}
REFUSED = {
    "administrator": ["/subjects/"],
    "compliance_officer": ["/people/", "/people/credentials/"],
    "auditor": ["/people/", "/people/credentials/"],
}


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("header .who")


@pytest.mark.parametrize("role", list(MENU))
def test_each_role_sees_its_menu_and_is_refused_the_rest(
    page, live_server, django_user_model, role, tmp_path
):
    username = f"{role.split('_')[0]}-user"
    person(django_user_model, username, role)
    sign_in(page, live_server.url, username)
    assert page.locator("header .who").inner_text() == f"{username} · {role.replace('_', ' ')}"
    assert page.locator("header nav a").all_inner_texts()[: len(MENU[role])] == MENU[role]
    page.screenshot(path=str(tmp_path / f"{role}.png"), full_page=True)
    for path in REFUSED[role]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path
    for label in MENU[role]:
        if label == "API":
            continue
        page.goto(f"{live_server.url}/")
        # click() returns once the link is clicked, not once the next page has loaded: expect()
        # waits for it (a bare count() read the old page on a loaded CI machine).
        with page.expect_navigation():
            page.click(f"header nav a:text-is('{label}')")
        expect(page.locator("h1"), label).to_have_count(1)
        assert "Not allowed" not in page.title()


def test_an_administrator_issues_a_credential_and_sees_its_secret_once(
    page, live_server, django_user_model
):
    person(django_user_model, "root", "administrator")
    sign_in(page, live_server.url, "root")
    page.click("header nav a:text-is('Agent credentials')")
    page.fill("#id_agent_id", "browser-agent")
    page.click("text=Issue a credential")
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("agt_")
    page.goto(f"{live_server.url}/people/credentials/")
    assert page.locator("#new-secret").count() == 0
    assert "browser-agent" in page.locator("tbody").inner_text()
    page.click("tbody tr:has-text('browser-agent') >> text=Revoke")
    expect(page.locator("tbody tr:has-text('browser-agent')")).to_contain_text("revoked")


def test_a_person_without_a_role_sees_no_menu_and_is_refused(page, live_server, django_user_model):
    person(django_user_model, "norole", None)
    sign_in(page, live_server.url, "norole")
    assert page.locator("header nav a:text-is('Events')").count() == 0
    assert page.goto(f"{live_server.url}/streams/").status == 403
    assert "does not allow this page" in page.inner_text("main")
