"""The API docs render in a browser from the portal alone: gunicorn, no CDN, a strict CSP."""

from __future__ import annotations

import sys

import pytest

from tests.support.services import free_port
from tests.telemetry.conftest import Processes, portal_env, wait_http

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gunicorn_portal(tmp_path, transactional_db):
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    database_url = (
        f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}"
    )
    processes = Processes(tmp_path)
    port = free_port()
    env = portal_env(
        database_url,
        settings.CELERY_BROKER_URL,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        DJANGO_DEBUG="0",
    )
    web, log = processes.start(
        "web",
        [sys.executable, "-m", "gunicorn", "-c", "compose/gunicorn.conf.py", "obsportal.wsgi"],
        env,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", web, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop_all()


def test_swagger_ui_renders_offline_under_gunicorn(page, gunicorn_portal):
    outside, violations = [], []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(gunicorn_portal) or request.url.startswith("data:")
            else outside.append(request.url)
        ),
    )
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{gunicorn_portal}/api/v1/schema/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Agent audit portal API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/events/" in path for path in paths)
    assert outside == []
    assert violations == []
