"""The ingest benchmark scripts still run and print their figures (#10's figures are re-run by
someone else later: a script that broke would go unnoticed until then).

A small run (20,000 events: the CPU split samples every 0.25 s) of
`benchmarks/cpu_by_process.py`, which runs `benchmarks/ingest_e2e.py` under it: SDK
journals, shippers, a Redis and a Celery worker of their own, the raw-COPY baseline and
the CPU split, against the real PostgreSQL. No figure is asserted (a timed
assertion would be no test of speed); what a reader of the output needs is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

pytestmark = pytest.mark.slow


@pytest.fixture
def bench_database():
    name = f"obsportal_bench_smoke_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    yield name
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_ingest_benchmark_runs_small_and_prints_every_figure(bench_database):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    done = subprocess.run(
        [sys.executable, "benchmarks/cpu_by_process.py", "--events", "20000", "--agents", "2",
         "--database", bench_database],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = done.stdout
    assert "SDK wrote 20,000 events into 2 journals" in out
    assert re.search(r"end-to-end: 20,000 events in [0-9.]+ s = [0-9,]+ events/s \(2 streams", out)
    assert re.search(r"baseline raw COPY of the same rows: [0-9.]+ s = [0-9,]+ rows/s", out)
    assert re.search(r"ratio end-to-end / raw COPY: [0-9.]+ \(goal >= 0.5\)", out)
    assert re.search(r"goal 25,000 events/s: (met|not met)", out)
    # The CPU split names the processes that did the work, and totals them.
    for kind in ("PostgreSQL backends", "worker pool processes", "worker main process", "total"):
        assert re.search(rf"  {kind} +[0-9.]+ s +[0-9.]+ µs/event", out), (kind, out)
