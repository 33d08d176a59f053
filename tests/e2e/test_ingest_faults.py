"""No loss under faults: workers killed with -9, Redis down, PostgreSQL down.

Each test ships real SDK journals through real shippers, over a Redis of its own,
to Celery workers of its own, and then checks the stored rows against the journals
with the independent chain implementation: every event once, every chain whole.

Outages last 10 s here (not the 30 s of the issue) to keep each test near a minute
on a shared 2-core machine; what matters is that the outage outlasts the shipper's
result timeout and several task retries, which 10 s does (timeouts of 5 s, retry
backoff 0.5-8 s). `benchmarks/ingest_faults.py` runs the 30 s and 200,000-event versions.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
from pathlib import Path

import psycopg
import pytest
import redis
from celery import Celery

from agents_sdk import CeleryTransport, JournalWriter, Shipper
from agents_sdk.audit.head_signing import key_path
from agents_sdk.shipping.transports import BatchRejected, TransportError
from tests.e2e.conftest import (
    OwnPostgres,
    SupervisedWorker,
    worker_env,
)
from tests.independent_chain import read_journal, verify_chain

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT = 5.0  # the shipper resends a batch it heard nothing about for this long


def write_journals(directory: Path, agent_id: str, journals: int, events: int) -> list[Path]:
    paths = []
    for index in range(journals):
        path = directory / f"{agent_id}-{index}.jsonl"
        with JournalWriter(path, agent_id, fsync="never") as journal:
            for i in range(events):
                journal.append(
                    "tool_execute" if i % 3 else "llm_call",
                    "success" if i % 7 else "denied",
                    details={"i": i, "journal": index},
                    user_id=f"user-{i % 5}",
                    personal_data={"email": f"u{i}@example.com"} if i % 50 == 0 else None,
                )
        paths.append(path)
    return paths


def ship_all(paths: list[Path], broker_url: str, token: str, deadline: float) -> list[Shipper]:
    """One shipper thread per journal, each shipping until its journal is drained.

    The journals share one credential, so they share its agent key too (docs/agent-keys.md:
    one credential has one key; copy the key file to a journal that shares it)."""
    for path in paths[1:]:
        shutil.copy2(key_path(paths[0]), key_path(path))
    shippers = [
        Shipper(
            path,
            CeleryTransport(broker_url, token=token, result_timeout=RESULT_TIMEOUT),
            batch_size=500,
        )
        for path in paths
    ]

    def run(shipper: Shipper) -> None:
        while time.monotonic() < deadline:
            try:
                if shipper.ship_once() == 0:
                    return
            except (TransportError, BatchRejected) as exc:
                shipper.last_error = str(exc)
                time.sleep(0.2)

    threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in shippers]
    for thread in threads:
        thread.start()
    return shippers, threads


def wait_until_shipped(shippers: list[Shipper], events: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sum(s.cursor.seq + 1 for s in shippers) < events and time.monotonic() < deadline:
        time.sleep(0.05)


def assert_all_shipped(shippers: list[Shipper], threads: list[threading.Thread], log: Path) -> None:
    """Every shipper thread ended with its journal drained; else say why, worker log included."""
    for thread in threads:
        thread.join(timeout=110)
    errors = [s.last_error for s in shippers]
    tail = log.read_text()[-3000:] if log.exists() else "(no worker log)"
    assert all(not t.is_alive() for t in threads), f"{errors}\nworker log:\n{tail}"
    for shipper in shippers:
        assert shipper.read_batch() is None, (
            f"not all shipped: {shipper.last_error}\nworker log:\n{tail}"
        )


def stored_rows(dsn: str) -> dict[str, list[dict]]:
    """Every stored event in envelope form (with its sidecar), grouped by stream in seq order."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT e.event_id::text, e.stream_id, e.seq,"
            " to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
            " e.agent_id, e.action, e.result, e.user_id, e.resource, e.details, e.trace_id,"
            " e.span_id, e.pii_commitments, e.prev_hash, e.hash,"
            " coalesce((SELECT jsonb_object_agg(p.field, jsonb_build_object("
            "   'value', p.value, 'salt', p.salt)) FROM ingest_personaldatum p"
            "   WHERE p.event_id = e.id), '{}'::jsonb)"
            # The portal's own trail (it records the credential issued) is not an agent's.
            " FROM ingest_auditevent e WHERE e.agent_id <> 'obsportal' ORDER BY e.stream_id, e.seq"
        ).fetchall()
    streams: dict[str, list[dict]] = {}
    names = [
        "event_id",
        "stream",
        "seq",
        "ts",
        "agent_id",
        "action",
        "result",
        "user_id",
        "resource",
        "details",
        "trace_id",
        "span_id",
        "pii_commitments",
        "prev_hash",
        "hash",
        "pii",
    ]
    for row in rows:
        event = dict(zip(names, row, strict=True))
        event["v"] = 1
        if not event["pii"]:
            del event["pii"]
        streams.setdefault(event["stream"], []).append(event)
    return streams


def assert_every_event_stored_once(paths: list[Path], dsn: str) -> None:
    streams = stored_rows(dsn)
    journals = {read_journal(p)[0]["stream"]: read_journal(p) for p in paths}
    assert sorted(streams) == sorted(journals)
    for stream, journal in journals.items():
        stored = streams[stream]
        assert len(stored) == len(journal), f"{stream}: {len(stored)} stored of {len(journal)}"
        assert verify_chain(stored) == []
        assert stored == journal  # every field, in order: nothing lost, doubled or changed
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM ingest_pendingevent").fetchone() == (0,)


def wait_until_broker_idle(broker_url: str, timeout: float) -> None:
    """Until no ingest message is queued or unacknowledged (redeliveries have run)."""
    client = redis.Redis.from_url(broker_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.llen("ingest") == 0 and client.hlen("unacked") == 0:
            return
        time.sleep(0.5)
    index = client.zrange("unacked_index", 0, -1, withscores=True)
    ages = [round(time.time() - score) for _, score in index]
    raise AssertionError(
        f"ingest messages still queued ({client.llen('ingest')}) or unacknowledged "
        f"({client.hlen('unacked')}, ages {ages}); keys {client.keys('*')[:20]}"
    )


def pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def wait_for_log(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and text not in log.read_text():
        time.sleep(0.05)


def pool_child_running_a_batch(inspector, timeout: float = 5.0) -> int | None:
    """The pid of a pool process that is executing a batch right now, as the worker reports it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for tasks in (inspector.active() or {}).values():
            pids = [task["worker_pid"] for task in tasks if task.get("worker_pid")]
            if pids:
                return pids[0]
        time.sleep(0.02)
    return None


def test_worker_killed_with_sigkill_five_times_loses_and_doubles_nothing(
    agent_token, own_redis, tmp_path
):
    from django.db import connection

    agent, token = agent_token
    # More journals (shippers) than pool processes keep a backlog, so a kill lands mid-batch.
    paths = write_journals(tmp_path, agent, journals=8, events=5_000)
    database = connection.settings_dict["NAME"]
    # A short visibility timeout so that batches of a killed main process come back
    # within the test; it only needs to exceed the longest batch (well under a second).
    env = worker_env(database, own_redis.url, CELERY_VISIBILITY_TIMEOUT="8")
    log = tmp_path / "worker.log"
    worker = SupervisedWorker(env, log, concurrency=2)
    shippers, threads = ship_all(paths, own_redis.url, token, time.monotonic() + 110)
    rng = random.Random(os.getpid())
    kills = []
    mid_batch_kills = 0
    # broker_read/write_url win over $CELERY_BROKER_URL, which would override broker=.
    # Not the current app: the tests after this one queue their tasks on the portal's own.
    control = Celery(
        broker_read_url=own_redis.url, broker_write_url=own_redis.url, set_as_current=False
    )
    # limit=1: return on the worker's reply instead of waiting out the timeout for others.
    inspector = control.control.inspect(timeout=0.5, limit=1)
    try:
        # Five kills at random points of the run, alternating a pool child and the whole worker.
        for round_, share in enumerate(sorted(rng.uniform(0.05, 0.8) for _ in range(5))):
            wait_until_shipped(shippers, int(share * 40_000))
            time.sleep(rng.uniform(0.0, 0.3))
            children = pool_children(worker.proc.pid)
            if round_ % 2 == 0 and children:  # a pool child mid-batch: requeued by its parent
                # Aim at a child the worker says is executing a batch, so the kill
                # lands mid-batch rather than between two.
                busy = pool_child_running_a_batch(inspector)
                target = busy if busy in children else rng.choice(children)
                os.kill(target, signal.SIGKILL)
                kills.append("child")
                mid_batch_kills += target == busy
                # Let the parent see its child die (and requeue its batch) before the
                # next round may kill the parent too.
                wait_for_log(log, f"pid:{target} exited with 'signal 9", timeout=10)
            else:  # the whole worker: redelivered after the visibility timeout
                worker.kill()
                kills.append("worker")
        assert_all_shipped(shippers, threads, log)
        wait_until_broker_idle(own_redis.url, timeout=40)
    finally:
        control.close()
        worker.stop()
        for shipper in shippers:
            shipper.transport.close()
    assert mid_batch_kills >= 1, "no kill landed while the worker reported a batch running"
    assert kills.count("child") >= 2 and kills.count("worker") >= 2
    db = connection.settings_dict
    assert_every_event_stored_once(
        paths, f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{database}"
    )


def test_redis_down_mid_run_loses_nothing(agent_token, own_redis, tmp_path):
    from django.db import connection

    agent, token = agent_token
    paths = write_journals(tmp_path, agent, journals=2, events=10_000)
    database = connection.settings_dict["NAME"]
    log = tmp_path / "worker.log"
    worker = SupervisedWorker(worker_env(database, own_redis.url), log, concurrency=2)
    shippers, threads = ship_all(paths, own_redis.url, token, time.monotonic() + 120)
    try:
        wait_until_shipped(shippers, 4_000)
        own_redis.stop()  # queued messages and results are gone with it (no persistence)
        shipped_during = sum(s.cursor.seq + 1 for s in shippers)
        time.sleep(10)
        own_redis.start()
        assert_all_shipped(shippers, threads, log)
    finally:
        worker.stop()
        for shipper in shippers:
            shipper.transport.close()
    assert 0 < shipped_during < 20_000, "the outage did not happen mid-run"
    db = connection.settings_dict
    assert_every_event_stored_once(
        paths, f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{database}"
    )


@pytest.fixture(autouse=True)
def broker_of_this_test(monkeypatch, own_redis):
    # Celery lets CELERY_BROKER_URL / CELERY_RESULT_BACKEND in the environment override the
    # broker a Celery app is given, so the shippers' transports would otherwise talk to the
    # suite's shared Redis instead of this test's own.
    monkeypatch.setenv("CELERY_BROKER_URL", own_redis.url)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", own_redis.url)


@pytest.fixture
def own_postgres():
    cluster = OwnPostgres()
    cluster.init()
    yield cluster
    cluster.destroy()


def test_postgres_down_mid_run_loses_nothing(own_postgres, own_redis, tmp_path):
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT

    env = dict(
        os.environ, DATABASE_URL=own_postgres.url, DJANGO_SETTINGS_MODULE="obsportal.settings"
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    token = (
        subprocess.run(
            [sys.executable, "manage.py", "issue_agent_token", "agent-pg"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .split()[-1]
    )
    paths = write_journals(tmp_path, "agent-pg", journals=2, events=10_000)
    log = tmp_path / "worker.log"
    worker_vars = dict(env, CELERY_BROKER_URL=own_redis.url, CELERY_RESULT_BACKEND=own_redis.url)
    worker = SupervisedWorker(worker_vars, log, concurrency=2)
    shippers, threads = ship_all(paths, own_redis.url, token, time.monotonic() + 120)
    try:
        wait_until_shipped(shippers, 4_000)
        own_postgres.stop()  # immediate: like a crash, open transactions are lost
        shipped_during = sum(s.cursor.seq + 1 for s in shippers)
        time.sleep(10)
        own_postgres.start()
        assert_all_shipped(shippers, threads, log)
        assert worker.restarts == 0, "the worker died instead of retrying"
    finally:
        worker.stop()
        for shipper in shippers:
            shipper.transport.close()
    assert 0 < shipped_during < 20_000, "the outage did not happen mid-run"
    assert "Retry in" in log.read_text(), "no task was retried while PostgreSQL was down"
    assert_every_event_stored_once(paths, own_postgres.url.replace("postgres://", "postgresql://"))
