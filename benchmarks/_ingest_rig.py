"""Shared rig of the ingest benchmarks: a database, a Redis, workers and shippers of their own.

Nothing here touches the shared Redis or the test databases: each run creates its
database (dropped first) and starts its own redis-server on a free port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents_sdk import CeleryTransport, JournalWriter, Shipper  # noqa: E402
from agents_sdk.shipping.transports import BatchRejected, TransportError  # noqa: E402
from tests.support.celery_worker import worker_argv  # noqa: E402
from tests.support.services import OwnRedis as Redis  # noqa: E402,F401 - the rig's Redis
from tests.support.services import free_port  # noqa: E402

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    """Drop and create `name`, migrate it; return its Django-style URL."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgres://") + "/" + name
    run_manage(url, "migrate", "--verbosity", "0")
    return url


def run_manage(database_url: str, *args: str) -> str:
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="obsportal.settings")
    env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def psycopg_dsn(database_url: str) -> str:
    return database_url.replace("postgres://", "postgresql://", 1)


class Worker:
    """`celery worker` in its own session, restarted whenever it exits (as systemd or compose
    would: Celery/kombu 5.7 can exit when Redis dies under an unacknowledged message);
    `kill()` is kill -9 of it and its pool."""

    def __init__(self, database_url: str, broker_url: str, log: Path, concurrency: int, **env):
        self.env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="obsportal.settings",
            DATABASE_URL=database_url,
            CELERY_BROKER_URL=broker_url,
            CELERY_RESULT_BACKEND=broker_url,
            LOG_LEVEL="WARNING",
            **env,
        )
        self.log, self.concurrency = log, concurrency
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._watcher: threading.Thread | None = None

    def supervise(self) -> None:
        self.start()
        self._ready.set()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            if self.proc.poll() is not None:
                try:
                    self.start()
                except RuntimeError:
                    continue  # died while starting: start again
                self.restarts += 1
                self._ready.set()

    def start(self) -> None:
        before = self.log.read_text().count(" ready.") if self.log.exists() else 0
        handle = open(self.log, "a")  # noqa: SIM115 - lives as long as the worker
        self.proc = subprocess.Popen(
            worker_argv(self.concurrency, "bench"),
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while self.log.read_text().count(" ready.") <= before:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            time.sleep(0.1)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        """kill -9 of the worker and its pool; returns once the supervisor's new one is ready."""
        self._ready.clear()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self._watcher is not None:
            self._ready.wait()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def write_journals(directory: Path, agents: int, per_agent: int) -> tuple[list[Path], float]:
    """SDK journals, one per agent; returns the paths and the events/s the SDK wrote them at."""
    directory.mkdir(parents=True, exist_ok=True)
    paths, started = [], time.perf_counter()
    for index in range(agents):
        path = directory / f"agent-{index}.jsonl"
        with JournalWriter(path, f"agent-{index}", fsync="never") as journal:
            for i in range(per_agent):
                journal.append(
                    ("tool_execute", "llm_call", "data_access")[i % 3],
                    "success" if i % 9 else "denied",
                    details={"i": i, "tool": "search", "tokens": 120 + i % 50},
                    user_id=f"user-{i % 100}",
                    resource=f"crm://tickets/{i % 1000}",
                    personal_data={"email": f"u{i}@example.com"} if i % 100 == 0 else None,
                )
        paths.append(path)
    return paths, agents * per_agent / (time.perf_counter() - started)


def issue_tokens(database_url: str, agents: int) -> dict[str, str]:
    return {
        f"agent-{i}": run_manage(database_url, "issue_agent_token", f"agent-{i}").strip()
        for i in range(agents)
    }


class Shipping:
    """One shipper thread per journal (as one per agent process), until each is drained."""

    def __init__(self, paths, tokens, broker_url, batch_size=1000, result_timeout=30.0):
        # Celery lets the environment override a given broker URL; point it at ours.
        os.environ["CELERY_BROKER_URL"] = broker_url
        os.environ["CELERY_RESULT_BACKEND"] = broker_url
        self.shippers = [
            Shipper(
                path,
                CeleryTransport(broker_url, token=tokens[path.stem], result_timeout=result_timeout),
                batch_size=batch_size,
            )
            for path in paths
        ]
        self.threads = [threading.Thread(target=self._run, args=(s,)) for s in self.shippers]
        self.errors = 0

    def _run(self, shipper: Shipper) -> None:
        while True:
            try:
                if shipper.ship_once() == 0:
                    return
            except (TransportError, BatchRejected) as exc:
                shipper.last_error = str(exc)
                self.errors += 1
                time.sleep(0.5)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def shipped(self) -> int:
        return sum(s.cursor.seq + 1 for s in self.shippers)

    def wait_until(self, events: int) -> None:
        while self.shipped() < events and any(t.is_alive() for t in self.threads):
            time.sleep(0.02)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()
        for shipper in self.shippers:
            shipper.transport.close()


class Postgres:
    """A throwaway PostgreSQL cluster of its own (initdb, pg_ctl; as user postgres if root)."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self) -> None:
        import shutil
        import tempfile

        self.port = free_port()
        # A directory of its own: the postgres user must be able to enter it.
        self.dir = Path(tempfile.mkdtemp(prefix="obsportal-bench-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/obsportal"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=self.dir)

    def init(self) -> None:
        self._run(str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self._run(str(self.BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "obsportal")
        run_manage(self.url, "migrate", "--verbosity", "0")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        log = str(self.dir / "log")
        self._run(
            str(self.BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l", log, "start"
        )

    def stop(self) -> None:
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
