"""End-to-end shipping throughput: journal -> shipper -> Redis -> Celery worker -> PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/obsportal_bench_ship \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/2 \\
    .venv/bin/python -m benchmarks.ship_throughput [--events 20000] [--concurrency 2]

Creates (and migrates) the database named by DATABASE_URL, starts a real Celery
worker on CELERY_BROKER_URL, writes a journal with the SDK, then ships it twice
into fresh streams: once the way the skeleton did (one batch of 500 at a time)
as the baseline, then with larger batches and a window of batches in flight.
Reports acknowledged events per second (stored and verified in PostgreSQL).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not database_url.startswith("postgres") or not broker:
        print("set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL", file=sys.stderr)
        return 2
    name = database_url.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", database_url.rsplit("/", 1)[0] + "/postgres", "-qc", f"create database {name}"],
        capture_output=True,
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "obsportal.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "obsportal.settings")
    import django

    django.setup()
    from agents_sdk import JournalWriter, Shipper
    from agents_sdk.shipping.transports import CeleryTransport
    from obsportal.accounts.services import issue_agent_token
    from obsportal.ingest.models import AuditEvent
    from tests.support.celery_worker import worker_argv

    log = Path(tempfile.mkdtemp()) / "worker.log"
    log_handle = open(log, "w")  # noqa: SIM115 - the worker writes it until it stops
    worker = subprocess.Popen(
        worker_argv(args.concurrency, "bench"),
        cwd=ROOT,
        env=env,
        stdout=log_handle,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(6)  # the worker starts (a ping is not worth a dependency here)
        runs = [
            ("baseline: batch 500, 1 in flight", 500, 1),
            ("batch 1000, 4 in flight", 1000, 4),
            ("batch 1000, 2 in flight", 1000, 2),
        ]
        results = []
        for label, batch_size, window in runs:
            agent = f"bench-{os.getpid()}-{batch_size}-{window}"
            token = issue_agent_token(agent)
            path = Path(tempfile.mkdtemp()) / "agent.jsonl"
            with JournalWriter(path, agent, fsync="never") as journal:
                for i in range(args.events):
                    journal.append(
                        "tool_execute", details={"i": i, "tool": "search"}, user_id="alice"
                    )
            transport = CeleryTransport(broker, token=token, result_timeout=120)
            shipper = Shipper(path, transport, batch_size=batch_size, max_in_flight=window)
            started = time.perf_counter()
            ok = shipper.drain(deadline=time.monotonic() + 600)
            elapsed = time.perf_counter() - started
            transport.close()
            stored = AuditEvent.objects.filter(agent_id=agent).count()
            results.append((label, args.events / elapsed, stored, ok, shipper.last_error))
    finally:
        worker.terminate()
        worker.wait(30)
    print(
        f"end-to-end shipping of {args.events:,} events into PostgreSQL"
        f" (Celery worker, {args.concurrency} processes; 2 shared cores)"
    )
    for label, rate, stored, ok, error in results:
        status = "all stored" if ok and stored == args.events else f"{stored} stored ({error})"
        print(f"  {label:<36} {rate:>9,.0f} events/s  {status}")
    best = max(rate for _, rate, *_ in results[1:])
    print(
        f"best windowed run vs the baseline: {best / results[0][1]:.1f}x;"
        f" target 25,000/s: {'met' if best >= 25_000 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
