"""/metrics names agents and their volumes: a scraper needs the token, or loopback."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_scrape_token(settings, tmp_path):
    settings.OBSPORTAL_METRICS_TOKEN = ""
    settings.OBSPORTAL_METRICS_TOKEN_FILE = tmp_path / "metrics-token"
    return settings


def test_without_a_token_configured_only_loopback_is_served(client, no_scrape_token):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert refused.status_code == 403
    assert b"obsportal_" not in refused.content
    assert b"loopback clients only" in refused.content


def test_with_a_token_configured_a_scraper_must_send_it(client, no_scrape_token):
    no_scrape_token.OBSPORTAL_METRICS_TOKEN = "s3cret-scrape-token"
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "x"}):
        refused = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert b"obsportal_" not in refused.content
    served = client.get(
        "/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token"
    )
    assert served.status_code == 200
    assert b"django_http_requests" in served.content


def test_create_metrics_token_writes_the_token_the_view_wants(client, no_scrape_token):
    call_command("create_metrics_token")
    path = no_scrape_token.OBSPORTAL_METRICS_TOKEN_FILE
    token = path.read_text().strip()
    assert len(token) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert ok.status_code == 200
    call_command("create_metrics_token")  # never replaces it unasked
    assert path.read_text().strip() == token
