"""Several processes, one exposition: gunicorn's and the Celery worker's metrics are the
sums over all their processes, whichever process served a request or ran a task."""

from __future__ import annotations

import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents_sdk import CeleryTransport
from tests.factories import journal_events
from tests.telemetry.conftest import (
    free_port,
    portal_env,
    start_worker,
    wait_http,
    wait_worker_ready,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_worker_metrics_sum_all_pool_processes(
    processes, own_redis, test_database_url, tmp_path, monkeypatch
):
    from obsportal.accounts.services import issue_agent_token

    monkeypatch.setenv("CELERY_BROKER_URL", own_redis)  # Celery prefers it to broker_url
    port = free_port()
    multiproc = tmp_path / "prom-worker"
    worker, log = start_worker(
        processes,
        portal_env(
            test_database_url,
            own_redis,
            PROMETHEUS_MULTIPROC_DIR=str(multiproc),
            OBSPORTAL_WORKER_METRICS_PORT=str(port),
            OBSPORTAL_WORKER_METRICS_ADDR="127.0.0.1",
        ),
        concurrency=2,
    )
    wait_worker_ready(log, worker)
    agents = [f"mp-agent-{i}" for i in range(8)]
    batches = [
        (issue_agent_token(agent), journal_events(tmp_path, agent, count=3, name=f"{agent}.jsonl"))
        for agent in agents
    ]

    def send(batch) -> dict:
        token, events = batch
        transport = CeleryTransport(own_redis, token=token)
        try:
            return transport.send(events)
        finally:
            transport.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(pool.map(send, batches))
    assert [v["admitted"] for v in verdicts] == [3] * 8

    metrics = scrape(f"http://127.0.0.1:{port}/metrics")
    assert metrics[("obsportal_ingest_batches_total", (("status", "accepted"),))] == 8
    for agent in agents:
        key = ("obsportal_ingest_events_total", (("agent_id", agent), ("result", "success")))
        assert metrics[key] == 3
    assert metrics[("obsportal_ingest_lag_seconds_count", ())] == 24
    # Both pool processes ran batches: each wrote its own file.
    pids = {path.stem.rsplit("_", 1)[-1] for path in multiproc.glob("counter_*.db")}
    assert len(pids) >= 2, pids


def test_portal_metrics_sum_all_gunicorn_workers(processes, own_redis, test_database_url, tmp_path):
    port = free_port()
    web, log = processes.start(
        "web",
        [sys.executable, "-m", "gunicorn", "-c", "compose/gunicorn.conf.py", "obsportal.wsgi"],
        portal_env(
            test_database_url,
            own_redis,
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-web"),
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="3",
        ),
    )
    portal = f"http://127.0.0.1:{port}"
    wait_http(f"{portal}/readyz", web, log)

    def get(_: int) -> None:
        urllib.request.urlopen(f"{portal}/healthz", timeout=10).close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(get, range(30)))

    key = (
        "django_http_requests_total_by_view_transport_method_total",
        (("method", "GET"), ("transport", "http"), ("view", "healthz")),
    )
    # Whichever worker answers the scrape, the count is the same total.
    assert {scrape(f"{portal}/metrics")[key] for _ in range(6)} == {30.0}
