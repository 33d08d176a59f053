"""Readers of the events API under gunicorn while an anonymous client floods POST /api/v1/ingest.

    .venv/bin/python benchmarks/hostile_ingest.py                       # 1M rows, 30 s per phase
    .venv/bin/python benchmarks/hostile_ingest.py --rows 50000 --seconds 5  # a smoke run

Seeds a dedicated database (`obsportal_bench_hostile`, the rows of api_events.py), starts
gunicorn as compose does (compose/gunicorn.conf.py, --workers processes), then measures
twice for --seconds each, in the same run: `--readers` clients reading
`GET /api/v1/events/` (an agent and a day, 50 rows) alone (the baseline), then the same
readers while one anonymous client sends bodies of --body-mib MiB to the ingest endpoint
as fast as it can. Every gunicorn worker's RSS is sampled throughout. Goals: every
worker's RSS <= 300 MB, and the readers' p95 under the flood within 2x of the baseline.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from _ingest_rig import ROOT, fresh_database, psycopg_dsn, run_manage
from api_events import AGENTS, DAYS, START, load, percentile

from tests.support.services import free_port

RSS_GOAL_MB = 300


def start_gunicorn(database_url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="obsportal.settings",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        LOG_LEVEL="WARNING",
    )
    env.pop("CELERY_BROKER_URL", None)
    handle = open(log, "w")  # noqa: SIM115 - the process keeps it
    command = [sys.executable, "-m", "gunicorn", "-c", "compose/gunicorn.conf.py"]
    proc = subprocess.Popen(
        [*command, "--access-logfile", "/dev/null", "obsportal.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


class RssSampler(threading.Thread):
    """The highest RSS seen of each gunicorn worker while it runs."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.peak, self.done = master, {}, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for pid in worker_pids(self.master):
                self.peak[pid] = max(self.peak.get(pid, 0.0), rss_mb(pid))
            time.sleep(0.2)


def reader(port: int, token: str, seconds: float, seed: int, latencies: list[float]) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        day = START + timedelta(days=rng.randrange(DAYS))
        url = (
            f"/api/v1/events/?agent_id=agent-{rng.randrange(AGENTS)}&since={day.strftime(fmt)}"
            f"&until={(day + timedelta(days=1)).strftime(fmt)}&page_size=50"
        )
        started = time.perf_counter()
        try:
            connection.request("GET", url, headers={"Authorization": f"Token {token}"})
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)


def read_for(port: int, token: str, readers: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    threads = [
        threading.Thread(target=reader, args=(port, token, seconds, seed, latencies))
        for seed in range(readers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def flood(port: int, body_mib: int, seconds: float, counter) -> None:
    """One anonymous client: 32 MiB bodies of `{}`, back to back, for `seconds`."""
    size = body_mib * 1024 * 1024
    piece = b"{}," * (1024 * 1024 // 3)
    head = (
        "POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(head)
                sent = 0
                try:
                    while sent < size:
                        chunk = piece[: size - sent]
                        sock.sendall(chunk)
                        sent += len(chunk)
                except OSError:
                    pass  # the portal answered and closed without reading the rest
                sock.recv(1024)
                counter.value += 1
        except OSError:
            time.sleep(0.01)


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    if not ms:
        return "no successful request"
    return (
        f"p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms "
        f"(n={len(ms)}, {len(ms) / ARGS.seconds:.0f} requests/s)"
    )


def main() -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (compose: 3)")
    parser.add_argument("--body-mib", type=int, default=32)
    parser.add_argument("--database", default="obsportal_bench_hostile")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database")
    ARGS = args = parser.parse_args()
    if args.reuse:
        database_url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    else:
        database_url = fresh_database(args.database)
        load(psycopg_dsn(database_url), args.rows)
    run_manage(
        database_url,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "from obsportal.accounts.models import RoleAssignment; "
        "user, _ = get_user_model().objects.get_or_create(username='bench-reader'); "
        "RoleAssignment.objects.update_or_create(user=user, defaults={'role': 'auditor'})",
    )
    token = run_manage(database_url, "issue_api_token", "bench-reader").strip().splitlines()[-1]
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"hostile-gunicorn-{port}.log"
    web = start_gunicorn(database_url, port, args.workers, log)
    try:
        read_for(port, token, args.readers, 2)  # warm every worker's connection and caches
        sampler = RssSampler(web.pid)
        sampler.start()
        quiet = read_for(port, token, args.readers, args.seconds)
        quiet_peak = dict(sampler.peak)
        sent = multiprocessing.Value("i", 0)
        attacker = multiprocessing.Process(
            target=flood, args=(port, args.body_mib, args.seconds, sent)
        )
        attacker.start()
        loaded = read_for(port, token, args.readers, args.seconds)
        attacker.join()
        sampler.done.set()
        sampler.join()
    finally:
        web.terminate()
        web.wait(timeout=30)
    print(f"gunicorn workers: {args.workers}; readers: {args.readers}; {args.seconds:.0f} s each")
    print(f"readers alone (baseline):             {summary(quiet)}")
    print(f"readers during the anonymous flood:   {summary(loaded)}")
    print(f"flood: {sent.value} bodies of {args.body_mib} MiB sent, anonymous")
    print("worker RSS peak, MB (alone):  " + ", ".join(f"{v:.0f}" for v in quiet_peak.values()))
    print("worker RSS peak, MB (flood):  " + ", ".join(f"{v:.0f}" for v in sampler.peak.values()))
    worst = max(sampler.peak.values(), default=0.0)
    ratio = float("inf")
    if quiet and loaded:
        ratio = percentile(sorted(loaded), 0.95) / percentile(sorted(quiet), 0.95)
    rss_met = "met" if worst <= RSS_GOAL_MB else "not met"
    print(f"goal every worker <= {RSS_GOAL_MB} MB: {rss_met} ({worst:.0f} MB)")
    print(f"goal flood p95 <= 2x baseline p95: {'met' if ratio <= 2 else 'not met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
