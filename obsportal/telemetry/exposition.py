"""Serving metrics: the portal's /metrics view and the Celery worker's HTTP exposition."""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import shutil
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_scrape_registry: CollectorRegistry | None = None


def process_registry() -> CollectorRegistry:
    """Counters and histograms of this process, or of all its siblings in multiprocess mode."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def scrape_registry() -> CollectorRegistry:
    global _scrape_registry
    if _scrape_registry is None:
        from obsportal.telemetry.collectors import scrape_time_collectors

        registry = CollectorRegistry()
        for collector in scrape_time_collectors():
            registry.register(collector)
        _scrape_registry = registry
    return _scrape_registry


def scrape_token() -> str:
    """The token a scraper must send, or "" when none is configured."""
    if settings.OBSPORTAL_METRICS_TOKEN:
        return settings.OBSPORTAL_METRICS_TOKEN
    try:
        return Path(settings.OBSPORTAL_METRICS_TOKEN_FILE).read_text().strip()
    except FileNotFoundError:
        return ""


def create_scrape_token(mode: int = 0o600) -> Path:
    """Write a new random scrape token to OBSPORTAL_METRICS_TOKEN_FILE."""
    path = Path(settings.OBSPORTAL_METRICS_TOKEN_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    os.chmod(path, mode)
    return path


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """Why this request may not read /metrics (they name agents and their volumes)."""
    token = scrape_token()
    if token:
        header = request.headers.get("Authorization", "")
        offered = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if hmac.compare_digest(offered.encode(), token.encode()):
            return None
        response = HttpResponse(
            "/metrics needs the scrape token: Authorization: Bearer <token>\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _is_loopback(request.META.get("REMOTE_ADDR", "")):
        return None
    return HttpResponse(
        "/metrics answers loopback clients only until a scrape token is configured "
        "(OBSPORTAL_METRICS_TOKEN or manage.py create_metrics_token)\n",
        status=403,
        content_type="text/plain",
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    """django-prometheus' and the pipeline's metrics, plus state read from the DB and broker."""
    refusal = scrape_refusal(request)
    if refusal is not None:
        return refusal
    body = generate_latest(process_registry()) + generate_latest(scrape_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def reset_multiprocess_dir() -> None:
    """Drop the files of a previous run: a restarted worker must not add up dead counters."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    path = Path(directory)
    if path.exists():
        for child in path.iterdir():
            if child.is_file() and child.suffix == ".db":
                child.unlink()
            elif child.is_dir():
                shutil.rmtree(child)
    path.mkdir(parents=True, exist_ok=True)


def serve_process_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """Expose this process' (and its children's, in multiprocess mode) metrics on a port."""
    start_http_server(port, addr=addr, registry=process_registry())
