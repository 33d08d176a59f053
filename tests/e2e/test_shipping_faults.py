"""Shipping under faults, end to end: a broker that dies and comes back, HTTP ingest, the CLI.

The broker here is a throwaway redis-server started by the test on a free port
(the shared Redis is never touched), with a real Celery worker pointed at it
and writing to the test PostgreSQL database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from agents_sdk import JournalWriter, Shipper
from agents_sdk.shipping.cursor import load_cursor
from agents_sdk.shipping.transports import BatchRejected, CeleryTransport, HttpTransport
from obsportal.ingest.models import AuditEvent
from tests.e2e.conftest import ROOT, worker_env
from tests.sdk.journal_files import all_events
from tests.support.celery_worker import worker_argv
from tests.support.services import OwnRedis

pytestmark = pytest.mark.django_db(transaction=True)


def start_worker(broker_url: str, log: Path) -> subprocess.Popen:
    """A real Celery worker (the portal's ingest queue) on `broker_url`, writing to the test DB."""
    env = worker_env(connection.settings_dict["NAME"])
    env.update(CELERY_BROKER_URL=broker_url, CELERY_RESULT_BACKEND=broker_url)
    handle = open(log, "w")  # noqa: SIM115 - the worker holds it until it exits
    proc = subprocess.Popen(
        worker_argv(2, "faults"),
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log.read_text()}")
        if " ready." in log.read_text():
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"celery worker was not ready within 60 s:\n{log.read_text()}")


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stored_hashes(stream: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(stream_id=stream).order_by("seq").values_list("hash", flat=True)
    )


@pytest.fixture
def own_broker(tmp_path):
    redis = OwnRedis()
    redis.start()
    try:
        worker = start_worker(redis.url, tmp_path / "worker.log")
    except BaseException:
        redis.stop()
        raise
    yield redis
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
    redis.stop()


@pytest.mark.slow
def test_redis_stopped_then_started_again_loses_nothing(agent_token, own_broker, tmp_path):
    agent, token = agent_token
    path = tmp_path / "agent.jsonl"
    journal = JournalWriter(path, agent, rotate_bytes=40_000)
    shipper = Shipper(
        path,
        CeleryTransport(own_broker.url, token=token, result_timeout=5),
        journal=journal,
        batch_size=50,
        max_wait=0.05,
        max_backoff=0.5,
    )
    journal.add_listener(shipper.wakeup)
    shipper.start()
    try:
        for i in range(100):
            journal.append("tool_execute", details={"i": i, "phase": "up"})
        wait_for(lambda: shipper.cursor.seq == 99, 60, "the first 100 events to ship")

        own_broker.stop()
        for i in range(300):
            journal.append("tool_execute", details={"i": i, "phase": "down"})
        assert journal.flush(timeout=5)
        wait_for(lambda: shipper.last_error is not None, 30, "the shipper to notice")
        assert shipper.pending_events() == 300
        assert load_cursor(path).seq == 99

        own_broker.start()
        wait_for(lambda: shipper.cursor.seq == 399, 120, "the backlog to ship after restart")
    finally:
        shipper.stop(timeout=10)
        journal.close()
    events = all_events(path)
    assert len(events) == 400
    assert stored_hashes(events[0]["stream"]) == [e["hash"] for e in events]
    assert AuditEvent.objects.filter(agent_id=agent).count() == 400  # exactly once


@pytest.mark.slow
def test_shipper_restart_over_celery_resumes_without_loss_or_duplicate(
    agent_token, own_broker, tmp_path
):
    agent, token = agent_token
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, agent, fsync="always", rotate_bytes=10_000) as journal:
        for i in range(120):
            journal.append("llm_call", details={"i": i})
    first = Shipper(path, CeleryTransport(own_broker.url, token=token), batch_size=30)
    assert first.ship_once() == 30
    first.transport.close()  # the agent process stops here
    with JournalWriter(path, agent, fsync="always", rotate_bytes=10_000) as journal:
        for i in range(80):
            journal.append("llm_call", details={"i": 120 + i})
    second = Shipper(
        path, CeleryTransport(own_broker.url, token=token), batch_size=30, max_in_flight=4
    )
    assert second.cursor.seq == 29
    assert second.drain(deadline=time.monotonic() + 60), second.last_error
    second.transport.close()
    assert second.shipped_events == 170
    events = all_events(path)
    assert stored_hashes(events[0]["stream"]) == [e["hash"] for e in events]
    assert AuditEvent.objects.filter(agent_id=agent).count() == 200


def test_http_transport_ships_every_event_with_a_window(agent_token, live_server, tmp_path):
    agent, token = agent_token
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, agent, rotate_bytes=20_000) as journal:
        for i in range(230):
            journal.append(
                "data_access",
                "denied" if i % 9 == 0 else "success",
                user_id="alice",
                details={"i": i, "note": "ünïcødé"},
                personal_data={"email": "alice@example.com"} if i % 50 == 0 else None,
            )
    transport = HttpTransport(live_server.url, token, max_in_flight=4)
    shipper = Shipper(path, transport, batch_size=25, max_in_flight=4)
    assert shipper.drain(deadline=time.monotonic() + 60), shipper.last_error
    transport.close()
    events = all_events(path)
    assert stored_hashes(events[0]["stream"]) == [e["hash"] for e in events]
    assert shipper.pending_events() == 0


def test_http_transport_with_a_wrong_token_is_rejected_and_ships_nothing(
    agent_token, live_server, tmp_path
):
    agent, _ = agent_token
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, agent) as journal:
        journal.append("step")
    transport = HttpTransport(live_server.url, "agt_not-a-real-token")
    with pytest.raises(BatchRejected, match="HTTP 401"):
        Shipper(path, transport).ship_once()
    transport.close()
    assert load_cursor(path).seq == -1
    assert AuditEvent.objects.filter(agent_id=agent).count() == 0


def test_cli_ship_drains_a_journal_over_http_and_a_rerun_sends_nothing(
    agent_token, live_server, tmp_path
):
    agent, token = agent_token
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, agent, fsync="always", rotate_bytes=8_000) as journal:
        for i in range(150):
            journal.append("tool_execute", details={"i": i})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AGENTS_SDK_INGEST_TOKEN": token}
    command = [
        sys.executable,
        "-m",
        "agents_sdk",
        "ship",
        str(path),
        "--url",
        live_server.url,
        "--batch-size",
        "40",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "shipped 150 event(s)" in proc.stdout
    assert "0 left" in proc.stdout
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0
    assert "shipped 0 event(s)" in again.stdout
    assert AuditEvent.objects.filter(agent_id=agent).count() == 150


@pytest.mark.slow
def test_cli_ship_over_a_broker(agent_token, own_broker, tmp_path):
    agent, token = agent_token
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, agent) as journal:
        for i in range(60):
            journal.append("tool_execute", details={"i": i})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents_sdk",
            "ship",
            str(path),
            "--broker",
            own_broker.url,
            "--token",
            token,
            "--batch-size",
            "25",
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "shipped 60 event(s)" in proc.stdout
    assert AuditEvent.objects.filter(agent_id=agent).count() == 60
