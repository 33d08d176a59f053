"""What the portal's own trail costs a request: record_trail alone, a request with and without.

    .venv/bin/python benchmarks/trail_overhead.py                    # full size
    .venv/bin/python benchmarks/trail_overhead.py --requests 300     # a quick run

Goal (issue #12): the trail's recording of a request costs <= 1 ms p95. Measured in a
dedicated database (`obsportal_bench_trail`, dropped first) through the whole Django
stack in process (session auth, role lookup, HasCapability, the view): the same
authenticated GET with the trail middleware in place and removed, interleaved so both
see the same machine. Also: record_trail() alone (one append under the head lock),
the same from 4 threads at once on the one shared stream (the contention that would
argue for a stream per process), and a bare `SELECT 1` round trip as the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

import psycopg
from _ingest_rig import ROOT, fresh_database, psycopg_dsn

URL = "/api/v1/checkpoints/"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"p50 {statistics.median(ms):.3f} ms, p95 {percentile(ms, 0.95):.3f} ms, "
        f"p99 {percentile(ms, 0.99):.3f} ms (n={len(ms)})"
    )


def timed(call, count: int, warmup: int = 20) -> list[float]:
    samples = []
    for index in range(count + warmup):
        started = time.perf_counter()
        call()
        if index >= warmup:
            samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database", default="obsportal_bench_trail")
    args = parser.parse_args()
    database_url = fresh_database(args.database)
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="obsportal.settings",
        DJANGO_ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, override_settings

    from obsportal.accounts.models import RoleAssignment
    from obsportal.ingest.models import AuditEvent
    from obsportal.trail.services import record_trail

    user = get_user_model().objects.create_user("bench-auditor")
    RoleAssignment.objects.create(user=user, role="auditor")
    client = Client()
    client.force_login(user)
    # A second client whose handler built its middleware chain without the trail (the
    # chain is built at its first request and kept), so no request pays a settings change.
    without = [m for m in django.conf.settings.MIDDLEWARE if "TrailMiddleware" not in m]
    plain_client = Client()
    plain_client.force_login(user)
    with override_settings(MIDDLEWARE=without):
        assert plain_client.get(URL).status_code == 200

    def request_with() -> None:
        assert client.get(URL).status_code == 200

    def request_without() -> None:
        assert plain_client.get(URL).status_code == 200

    request_with()
    before = AuditEvent.objects.count()
    request_without()
    assert AuditEvent.objects.count() == before, "the plain client must not write the trail"
    traced, plain = [], []
    rounds = max(1, args.requests // 100)
    for _ in range(rounds):  # interleaved blocks: both variants see the same machine
        traced += timed(request_with, 100, warmup=5)
        plain += timed(request_without, 100, warmup=5)

    def one_append() -> None:
        record_trail("events.search", actor="bench-auditor", details={"path": URL})

    alone = timed(one_append, args.requests)

    contended: list[float] = []
    lock = threading.Lock()

    def writer(count: int) -> None:
        mine = timed(one_append, count, warmup=5)
        with lock:
            contended.extend(mine)
        connection.close()

    threads = [
        threading.Thread(target=writer, args=(args.requests // args.threads,))
        for _ in range(args.threads)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    contended_rate = len(contended) / (time.perf_counter() - started)

    with psycopg.connect(psycopg_dsn(database_url), autocommit=True) as conn:
        baseline = timed(lambda: conn.execute("SELECT 1").fetchone(), args.requests)
        stored = conn.execute(
            "SELECT count(*) FROM ingest_auditevent WHERE agent_id = 'obsportal'"
        ).fetchone()[0]

    from obsportal.integrity.verification import verify_streams

    run = verify_streams(trigger="benchmark")
    print(f"trail events stored: {stored:,}; verify_streams: {run.status}")
    print(f"GET {URL} with the trail:     {summary(traced)}")
    print(f"GET {URL} without the trail:  {summary(plain)}")
    p50 = (statistics.median(traced) - statistics.median(plain)) * 1000
    p95 = (percentile(traced, 0.95) - percentile(plain, 0.95)) * 1000
    print(f"the trail's share of a request: p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    print(f"record_trail alone:            {summary(alone)}")
    print(
        f"record_trail, {args.threads} threads, one stream: {summary(contended)}, "
        f"{contended_rate:,.0f} appends/s"
    )
    print(f"baseline, SELECT 1 round trip: {summary(baseline)}")
    verdict = "met" if p95 <= 1.0 else "not met"
    print(f"goal: the trail's p95 share <= 1 ms: {verdict} ({p95:.3f} ms)")


if __name__ == "__main__":
    main()
