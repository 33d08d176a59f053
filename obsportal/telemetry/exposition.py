"""Serving metrics: the portal's /metrics view and the Celery worker's HTTP exposition."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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


def metrics_view(request: HttpRequest) -> HttpResponse:
    """django-prometheus' and the pipeline's metrics, plus state read from the DB and broker."""
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
