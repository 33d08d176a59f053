"""The API docs render in a browser from the portal alone: gunicorn, no CDN, a strict CSP."""

from __future__ import annotations

import pytest

from tests.support.portal import GunicornPortal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gunicorn_portal(tmp_path, transactional_db):
    portal = GunicornPortal(tmp_path, DJANGO_DEBUG="0")
    try:
        yield portal.start()
    finally:
        portal.stop()


@pytest.fixture
def officer(django_user_model):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from tests.factories import with_role

    # Hashed as gunicorn's settings can check (the suite's own hasher is MD5, for speed).
    password = PBKDF2PasswordHasher().encode(PASSWORD, "browsersalt")
    with_role(django_user_model.objects.create(username="officer", password=password))
    return "officer"


PASSWORD = "correct-horse-battery-staple"


def test_swagger_ui_renders_offline_under_gunicorn(page, gunicorn_portal, officer):
    outside, violations = [], []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((gunicorn_portal, "data:"))
            else outside.append(request.url)
        ),
    )
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{gunicorn_portal}/accounts/login/?next=/api/v1/schema/docs/")
    page.fill("#id_username", officer)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Agent audit portal API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/events/" in path for path in paths)
    assert outside == []
    assert violations == []
