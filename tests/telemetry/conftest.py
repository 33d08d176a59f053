"""Real processes for the telemetry tests: Redis, the portal, a Celery worker, Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.celery_worker import worker_argv
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-4000:]}")


class Processes:
    """Started subprocesses, each with its log; all stopped at teardown."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.running: list[tuple[subprocess.Popen, object]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None):
        log = self.log_dir / f"{name}.log"
        handle = open(log, "w")  # noqa: SIM115 - closed in stop_all
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        self.running.append((proc, handle))
        return proc, log

    def stop_all(self) -> None:
        for proc, _ in reversed(self.running):
            if proc.poll() is None:
                proc.terminate()
        for proc, handle in reversed(self.running):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            handle.close()


@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture
def own_redis(processes) -> str:
    """A Redis of this test only, so no other worker of the suite takes its tasks."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    _, log = processes.start(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            client.ping()
            return f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"redis did not start:\n{log.read_text()}")


@pytest.fixture
def test_database_url(transactional_db) -> str:
    from django.db import connection

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}"


def portal_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("OTEL_", "PROMETHEUS_MULTIPROC")):
            del env[name]
    env.update(
        DJANGO_SETTINGS_MODULE="obsportal.settings",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        CELERY_RESULT_BACKEND=broker_url,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_worker(processes: Processes, env: dict[str, str], concurrency: int = 2):
    proc, log = processes.start(
        "worker",
        worker_argv(concurrency, "telemetry"),
        env,
    )
    return proc, log


def wait_worker_ready(log: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{log.read_text()[-4000:]}")
        if " ready." in log.read_text():
            return
        time.sleep(0.2)
    raise RuntimeError(f"worker not ready within {timeout} s:\n{log.read_text()[-4000:]}")


def post_batch(portal: str, token: str, events: list[dict]) -> dict:
    request = urllib.request.Request(
        f"{portal}/api/v1/ingest",
        data=json.dumps({"events": events}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)
