"""The officer's pages at 5,000,000 stored events: overview, search, event detail.

    .venv/bin/python benchmarks/portal_pages.py --rows 5000000          # load, then measure
    .venv/bin/python benchmarks/portal_pages.py --rows 5000000 --reuse  # measure again

The rows are loaded as `benchmarks/api_events.py` loads them (COPY into a database of
its own, `obsportal_bench_pages`: 50 agents x 100 days), plus one stream of traced
events (1,000 traces of 5). The hourly counts are then rebuilt from the rows (what
admission keeps as it stores), a checkpoint is signed, and one verification run is
recorded per stream as covering its whole chain (rows written by this script: a real
walk of 5M events is benchmarks/verify_throughput.py's subject, not this one's).

Server time is measured through Django's test client, signed in as an officer, the
whole stack (session, capability, trail record of the request, template): overview
(goal p95 <= 150 ms), the search page with each single filter plus a one-day range
(<= 100 ms), the event page (<= 50 ms). Then the same pages in headless Chromium
against `manage.py runserver` on a port of this helper's range: load event < 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from _ingest_rig import ROOT, fresh_database, psycopg_dsn
from api_events import AGENTS, DAYS, START, load, percentile, summary

TRACES, PER_TRACE = 1000, 5
FORMAT = "%Y-%m-%dT%H:%M:%SZ"
GOALS_MS = {"overview": 150, "search": 100, "detail": 50}


def load_traced(dsn: str) -> None:
    """One more stream: TRACES traces of PER_TRACE events, spread over the 100 days."""
    step = timedelta(days=DAYS) / (TRACES * PER_TRACE)
    lines = []
    for n in range(TRACES * PER_TRACE):
        moment = (START + n * step).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        h = f"{10**9 + n:032x}"
        trace = f"{n // PER_TRACE:032x}"
        lines.append(
            f"{h[:8]}-{h[8:12]}-7{h[13:16]}-8{h[17:20]}-{h[20:]}\tstream-traced\t{n}\t{moment}\t"
            f"agent-traced\tllm_call\tsuccess\tuser-{n % 1000}\tcrm://t/{n % 5000}\t{{}}\t"
            f"{trace}\t{n:016x}\t{{}}\t{10**9 + n - 1:064x}\t{10**9 + n:064x}\t{moment}\n"
        )  # fmt: skip
    columns = (
        "event_id, stream_id, seq, ts, agent_id, action, result, user_id, resource,"
        " details, trace_id, span_id, pii_commitments, prev_hash, hash, received_at"
    )
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count,"
            " created_at, updated_at) VALUES ('stream-traced', 'agent-traced', %s, %s, 'ok', 0,"
            " now(), now())",
            [TRACES * PER_TRACE - 1, f"{10**9 + TRACES * PER_TRACE - 1:064x}"],
        )
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY ingest_auditevent ({columns}) FROM STDIN") as copy,
        ):
            copy.write("".join(lines))
        conn.commit()


def setup_django(database_url: str, key_dir: Path) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="obsportal.settings",
        DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        OBSPORTAL_SIGNING_KEY_FILE=str(key_dir / "checkpoint.key"),
        OBSPORTAL_CHECKPOINT_DIR=str(key_dir / "checkpoints"),
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare() -> None:
    """Counts rebuilt from the rows, a checkpoint signed, a verification run recorded."""
    from django.utils import timezone

    from obsportal.ingest.counts import rebuild_event_counts
    from obsportal.ingest.models import Stream
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.models import StreamVerification, VerificationRun
    from obsportal.integrity.signing import create_signing_key

    started = time.perf_counter()
    rebuild_event_counts()
    print(f"hourly counts rebuilt from the rows: {time.perf_counter() - started:.0f} s")
    try:
        create_signing_key()
    except Exception as exc:  # noqa: BLE001 - a key kept from an earlier run
        print(f"signing key: {exc}")
    sign_checkpoint()
    run = VerificationRun.objects.create(trigger="benchmark", status="verified")
    streams = list(Stream.objects.values_list("id", "head_seq"))
    StreamVerification.objects.bulk_create(
        StreamVerification(
            run=run, stream_id=s, status="verified", verified_from=0, verified_to=h, last_seq=h
        )
        for s, h in streams
    )
    run.finished_at, run.streams_checked = timezone.now(), len(streams)
    run.save()


def officer():
    from django.contrib.auth import get_user_model

    from obsportal.accounts.models import RoleAssignment

    user, created = get_user_model().objects.get_or_create(username="bench-officer")
    if created:
        user.set_password("bench-officer-pw-1")
        user.save()
    RoleAssignment.objects.update_or_create(user=user, defaults={"role": "compliance_officer"})
    return user


def day_range(rng: random.Random) -> tuple[str, str]:
    day = START + timedelta(days=rng.randrange(DAYS))
    return day.strftime(FORMAT), (day + timedelta(days=1)).strftime(FORMAT)


def urls(rng: random.Random, dsn: str, count: int) -> dict[str, list[str]]:
    end = (START + timedelta(days=DAYS)).strftime(FORMAT)
    with psycopg.connect(dsn) as conn:
        ids = [
            str(r[0])
            for r in conn.execute(
                "SELECT event_id FROM ingest_auditevent TABLESAMPLE SYSTEM (0.1)"
                " WHERE agent_id <> 'obsportal' LIMIT %s",
                [count],
            )
        ]
        streams = [f"stream-{a}" for a in range(AGENTS)]
    single = {
        "agent_id": lambda: f"agent-{rng.randrange(AGENTS)}",
        "action": lambda: rng.choice(("tool_execute", "llm_call", "data_access")),
        "result=denied": lambda: "denied",
        "result=success": lambda: "success",
        "user_id": lambda: f"user-{rng.randrange(1000)}",
        "resource": lambda: f"crm://t/{rng.randrange(5000)}",
        "stream": lambda: rng.choice(streams),
        "trace_id": lambda: f"{rng.randrange(TRACES):032x}",
    }
    pages: dict[str, list[str]] = {
        "overview": [f"/?period=24h&until={end}", f"/?period=7d&until={end}"] * (count // 2),
        "detail": [f"/events/{i}/" for i in ids],
    }
    for label, value in single.items():
        name = label.split("=")[0]
        pages[f"search {label}"] = []
        for _ in range(count):
            since, until = day_range(rng)
            pages[f"search {label}"].append(
                "/events/?" + urlencode({name: value(), "since": since, "until": until})
            )
    return pages


def measure_server(pages: dict[str, list[str]]) -> dict[str, list[float]]:
    from django.test import Client

    client = Client()
    client.force_login(officer())
    timings: dict[str, list[float]] = {}
    for label, paths in pages.items():
        for path in paths[:5]:  # warm caches and the connection
            client.get(path)
        samples = timings.setdefault(label, [])
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
    return timings


def measure_browser(pages: dict[str, list[str]], port: int, database_url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url)
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--nothreading",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    base = f"http://127.0.0.1:{port}"
    timings: dict[str, list[float]] = {}
    try:
        for _ in range(100):
            try:
                import urllib.request

                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", "bench-officer")
            page.fill("#id_password", "bench-officer-pw-1")
            page.click("button[type=submit]")
            page.wait_for_selector("header .who")
            for label in ("overview", "search agent_id", "search user_id", "detail"):
                samples = timings.setdefault(label, [])
                for path in pages[label][:15]:
                    started = time.perf_counter()
                    page.goto(base + path, wait_until="load")
                    samples.append(time.perf_counter() - started)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=60, help="per page kind")
    parser.add_argument("--database", default="obsportal_bench_pages")
    parser.add_argument("--port", type=int, default=9150)
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database again")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    key_dir = Path(tempfile.gettempdir()) / f"{args.database}-keys"
    key_dir.mkdir(exist_ok=True)
    if args.reuse:
        database_url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    else:
        database_url = fresh_database(args.database)
        load(psycopg_dsn(database_url), args.rows)
        load_traced(psycopg_dsn(database_url))
    setup_django(database_url, key_dir)
    if not args.reuse:
        prepare()
    officer()
    rng = random.Random(13)
    pages = urls(rng, psycopg_dsn(database_url), args.requests)
    with psycopg.connect(psycopg_dsn(database_url)) as conn:
        stored = conn.execute("SELECT count(*) FROM ingest_auditevent").fetchone()[0]
        counts = conn.execute("SELECT count(*) FROM ingest_eventcount").fetchone()[0]
    print(f"stored events: {stored:,}; hourly count rows: {counts:,}")
    print(f"load average: {os.getloadavg()}")
    server = measure_server(pages)
    searches = [
        s for label, samples in server.items() if label.startswith("search") for s in samples
    ]
    print("server time through Django's test client (signed in, trail recorded):")
    for label, samples in server.items():
        print(f"  {label:22s} {summary(samples)}")
    verdicts = {
        "overview": percentile(server["overview"], 0.95) * 1000,
        "search": max(percentile(s, 0.95) for k, s in server.items() if k.startswith("search"))
        * 1000,
        "detail": percentile(server["detail"], 0.95) * 1000,
    }
    print(f"  {'search, all filters':22s} {summary(searches)}")
    for kind, p95 in verdicts.items():
        goal = GOALS_MS[kind]
        print(f"goal {kind} p95 <= {goal} ms: {'met' if p95 <= goal else 'NOT met'} ({p95:.1f} ms)")
    if not args.no_browser:
        browser = measure_browser(pages, args.port, database_url)
        print("in headless Chromium (navigation to the load event, manage.py runserver):")
        for label, samples in browser.items():
            p95 = percentile(samples, 0.95)
            print(
                f"  {label:22s} {summary(samples)}  goal < 1 s: {'met' if p95 < 1 else 'NOT met'}"
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    started = datetime.now(UTC)
    main()
    print(f"took {(datetime.now(UTC) - started).total_seconds():.0f} s")
