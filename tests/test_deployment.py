"""Production settings: Django's deploy check is clean, weak secrets refused, a CSP sent."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "obsportal.settings", **env}
    # The browser tests' conftest sets it for their own process; no deployment has it.
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_with_no_warning():
    done = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        OBSPORTAL_PRODUCTION="1",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


@pytest.mark.parametrize("secret", ["abcde", "x" * 60, "short-but-random-" + "k3y"])
def test_production_refuses_a_short_or_repetitive_secret_key(secret):
    done = manage("check", OBSPORTAL_PRODUCTION="1", DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secret)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY must be at least 50 random characters" in done.stderr


@pytest.fixture
def officer(client, django_user_model):
    from tests.factories import with_role

    client.force_login(with_role(django_user_model.objects.create_user("officer")))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/schema/docs/", "/"])
def test_pages_carry_a_content_security_policy_without_inline_script(officer, path):
    response = officer.get(path)
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    page = response.content.decode()
    # Styles and script are the portal's own files, served by the app: nothing inline.
    if path != "/api/v1/schema/docs/":
        assert '<link rel="stylesheet" href="/static/portal/portal.css">' in page
        assert '<script src="/static/portal/portal.js" defer></script>' in page
        assert "<style" not in page
    assert "<script>" not in page


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_another_host(officer):
    page = officer.get("/api/v1/schema/docs/").content.decode()
    assert "cdn" not in page.lower() and "https://" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
