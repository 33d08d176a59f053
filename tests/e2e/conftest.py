"""A real Celery worker, on the real Redis, writing to the test PostgreSQL database.

Fault tests start their own workers, Redis servers and PostgreSQL clusters through the
helpers here, so that killing them never touches what other tests (or helpers) share.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.support.celery_worker import worker_argv
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def worker_env(database_name: str, broker_url: str | None = None, **extra: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    broker = broker_url or settings.CELERY_BROKER_URL
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="obsportal.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{database_name}",
        CELERY_BROKER_URL=broker,
        CELERY_RESULT_BACKEND=broker if broker_url else settings.CELERY_RESULT_BACKEND,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path, concurrency: int = 1) -> subprocess.Popen:
    """`celery worker` in its own session (so a fault test can kill it and its pool at once)."""
    handle = open(log, "a")  # noqa: SIM115 - owned by the process's lifetime
    return subprocess.Popen(
        worker_argv(concurrency, "test"),
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker_ready(env: dict[str, str], log: Path, concurrency: int = 1) -> subprocess.Popen:
    """Start a worker and wait until it logs that it is ready (consuming)."""
    before = log.read_text().count(" ready.") if log.exists() else 0
    proc = start_worker(env, log, concurrency)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log.read_text()}")
        if log.read_text().count(" ready.") > before:
            return proc
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"celery worker was not ready within 60 s:\n{log.read_text()}")


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class SupervisedWorker:
    """A worker restarted whenever it exits, as a process supervisor (systemd, compose) would.

    Celery 5.7 / kombu 5.7 can exit with "Unrecoverable error: AttributeError ...
    'hostname'" when Redis goes away while a message is unacknowledged (it tries to
    restore it through the closed connection); deployments run workers supervised.
    """

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 2) -> None:
        self.env, self.log, self.concurrency = env, log, concurrency
        self.restarts = 0
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self.proc = start_worker_ready(env, log, concurrency)
        self._ready.set()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            if self.proc.poll() is not None:
                try:
                    self.proc = start_worker_ready(self.env, self.log, self.concurrency)
                except RuntimeError:
                    continue  # died while starting: start again
                self.restarts += 1
                self._ready.set()

    def kill(self) -> None:
        """kill -9 of the worker and its pool; returns once the supervisor's new one is ready."""
        self._ready.clear()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        assert self._ready.wait(90), "the supervisor did not restart the worker"

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        stop_worker(self.proc)


class OwnPostgres:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl, run as the postgres user)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="obsportal-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=self.dir)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "obsportal")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l",
            str(self.dir / "log"), "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/obsportal"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="package")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start `celery worker` for the e2e tests; yield its log path. Stopped when a process
    (pytest-xdist) moves on to another package, so it never takes the tasks of a test
    elsewhere that starts a worker of its own and reads that worker's log."""
    from django.db import connection

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with django_db_blocker.unblock():
        database_name = connection.settings_dict["NAME"]
    proc = start_worker_ready(worker_env(database_name), log)
    yield log
    stop_worker(proc)
