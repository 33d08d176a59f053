"""Single sign-on end to end: a real OIDC provider on the loopback, a browser, a claim's role."""

from __future__ import annotations

import pytest

from obsportal.ingest.models import AuditEvent
from tests.support.oidc_provider import OIDCProvider

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = {
    "ida": {"email": "ida@example.org", "groups": ["portal-auditors"]},
    "otto": {
        "email": "otto@example.org",
        "groups": ["staff", "portal-officers", "portal-auditors"],
    },
    "mallory": {"email": "mallory@example.org", "groups": ["staff"]},
    "admin": {"email": "admin@example.org", "groups": ["portal-admins"]},
}


@pytest.fixture
def provider(settings):
    with OIDCProvider("obsportal-test", "s3cret-for-tests", PEOPLE) as idp:
        settings.OBSPORTAL_OIDC_ENABLED = True
        settings.OIDC_RP_CLIENT_ID = idp.client_id
        settings.OIDC_RP_CLIENT_SECRET = idp.client_secret
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = idp.endpoint("authorize")
        settings.OIDC_OP_TOKEN_ENDPOINT = idp.endpoint("token")
        settings.OIDC_OP_USER_ENDPOINT = idp.endpoint("userinfo")
        settings.OIDC_OP_JWKS_ENDPOINT = idp.endpoint("jwks")
        settings.OBSPORTAL_OIDC_ISSUER = idp.issuer
        settings.AUTHENTICATION_BACKENDS = [
            *settings.AUTHENTICATION_BACKENDS,
            "obsportal.accounts.oidc.RoleClaimBackend",
        ]
        yield idp


def sign_in_by_sso(page, base: str, username: str, provider: OIDCProvider) -> None:
    page.goto(f"{base}/accounts/login/")
    page.click("text=Sign in with single sign-on")
    page.wait_for_selector("#idp-username")
    assert page.url.startswith(provider.endpoint("authorize") + "?")
    page.fill("#idp-username", username)
    page.click("#idp-sign-in")


def test_a_claim_gives_the_role_and_the_login_is_on_the_trail(page, live_server, provider):
    sign_in_by_sso(page, live_server.url, "ida", provider)
    page.wait_for_selector("header .who")
    assert page.locator("header .who").inner_text() == "ida · auditor"
    assert "Users" not in page.locator("header nav").inner_text()
    assert page.goto(f"{live_server.url}/people/").status == 403
    login = AuditEvent.objects.filter(agent_id="obsportal", action="auth.login").get()
    assert login.user_id == "ida"
    assignment = AuditEvent.objects.filter(agent_id="obsportal", action="role.assign").get()
    assert assignment.details["role"] == "auditor"
    assert assignment.details["via"] == "single sign-on"
    assert provider.token_requests == 1


def test_the_most_rights_of_several_groups_win_and_no_group_is_refused(page, live_server, provider):
    sign_in_by_sso(page, live_server.url, "otto", provider)
    page.wait_for_selector("header .who")
    assert page.locator("header .who").inner_text() == "otto · compliance officer"
    page.context.clear_cookies()
    sign_in_by_sso(page, live_server.url, "mallory", provider)
    page.wait_for_url("**/accounts/login/**")
    assert "could not sign you in" in page.inner_text("main")
    assert page.locator("header .who").count() == 0


def test_single_sign_on_never_takes_over_a_local_account(
    page, live_server, provider, django_user_model
):
    from tests.factories import with_role

    with_role(
        django_user_model.objects.create_user("admin", password="local-admin-pass-1"), "auditor"
    )
    sign_in_by_sso(page, live_server.url, "admin", provider)
    page.wait_for_url("**/accounts/login/**")
    assert page.locator("header .who").count() == 0
    assert django_user_model.objects.get(username="admin").role_assignment.role == "auditor"


def test_a_token_for_another_client_is_refused(provider, rf):
    from django.core.exceptions import SuspiciousOperation

    from obsportal.accounts.oidc import RoleClaimBackend

    backend = RoleClaimBackend()
    with pytest.raises(SuspiciousOperation, match="another client"):
        backend.verify_token(provider.id_token("ida", None, audience="someone-else"))
    assert backend.verify_token(provider.id_token("ida", None))["preferred_username"] == "ida"
