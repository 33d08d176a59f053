"""`GET /api/v1/events/` filtered by agent and one day, 50 rows, at 5,000,000 stored events.

    .venv/bin/python benchmarks/api_events.py --rows 5000000          # load, then measure
    .venv/bin/python benchmarks/api_events.py --rows 5000000 --reuse  # measure again

Rows are COPYed into a dedicated database (`obsportal_bench_api`, dropped first) with
the secondary indexes dropped during the load and rebuilt after it, exactly as the
migrations define them. 50 agents x 100 days, evenly spread: one agent-day holds
rows/5000 events. The requests go through the whole Django stack in process (URL
routing, token authentication, filters, cursor pagination, serialization); the
baseline is the same query as raw SQL over psycopg, measured in the same run.

    .venv/bin/python benchmarks/api_events.py --rows 5000000 --skew   # issue #11

--skew: one agent (`agent-0`, "busy") holds half of all rows, the 49 others share the
other half. The busy agent wrote them all in the first half of the period and little
since (a batch job that stopped): newest first, its events are behind every other
agent's recent ones, the case where a time index filtered row by row reads half the
table. The requests ask for the busy agent's events, with a one-day range in its busy
half and without a range (goal: p95 <= 50 ms through DRF); each query's plan is printed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
from _ingest_rig import ROOT, fresh_database, psycopg_dsn

AGENTS, DAYS = 50, 100
START = datetime(2026, 1, 1, tzinfo=UTC)


def load(dsn: str, rows: int, skew: bool = False) -> None:
    # Skewed: agent-0 writes AGENTS - 1 events for every one of each other agent's.
    per_agent_day = rows // (2 * (AGENTS - 1) * DAYS) if skew else rows // (AGENTS * DAYS)
    busy_extra = 2 * (AGENTS - 1) - 1 if skew else 0  # per step, in the first half only
    with psycopg.connect(dsn) as conn:
        secondary = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = "
            "'ingest_auditevent' AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)"
        ).fetchall()
        for name, _ in secondary:
            conn.execute(f"DROP INDEX {name}")
        conn.execute(
            "INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count,"
            " created_at, updated_at) SELECT 'stream-' || a, 'agent-' || a, -1, %s, 'ok', 0,"
            " now(), now() FROM generate_series(0, %s) a",
            ["0" * 64, AGENTS - 1],
        )
        conn.commit()
        started, seqs, done = time.perf_counter(), [0] * AGENTS, 0
        step = 86_400_000_000 // per_agent_day  # microseconds between an agent's events
        columns = (
            "event_id, stream_id, seq, ts, agent_id, action, result, user_id, resource,"
            " details, trace_id, span_id, pii_commitments, prev_hash, hash, received_at"
        )
        actions = ("tool_execute", "llm_call", "data_access", "permission_request")
        results = ("success",) * 7 + ("failure", "denied", "error")
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY ingest_auditevent ({columns}) FROM STDIN") as copy,
        ):
            for day in range(DAYS):
                base = START + timedelta(days=day)
                lines = []
                for k in range(per_agent_day):
                    moment = base + timedelta(microseconds=k * step)
                    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    if day < DAYS // 2:
                        writers = [0] * busy_extra + list(range(AGENTS))
                    else:
                        writers = list(range(1, AGENTS))
                    for agent in writers:
                        n = done = done + 1
                        h = f"{n:032x}"
                        seq = seqs[agent]
                        seqs[agent] = seq + 1
                        lines.append(
                            f"{h[:8]}-{h[8:12]}-7{h[13:16]}-8{h[17:20]}-{h[20:]}\tstream-{agent}\t"
                            f"{seq}\t{stamp}\tagent-{agent}\t{actions[n % 4]}\t{results[n % 10]}\t"
                            f"user-{n % 1000}\tcrm://t/{n % 5000}\t{{\"n\": {n}}}\t\\N\t\\N\t{{}}\t"
                            f"{n - 1:064x}\t{n:064x}\t{stamp}\n"
                        )  # fmt: skip
                copy.write("".join(lines))
                if day % 10 == 9:
                    print(f"  loaded {done:,} rows", flush=True)
        conn.commit()
        print(f"COPY of {done:,} rows: {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        for _, definition in secondary:
            conn.execute(definition)
        conn.execute("UPDATE ingest_stream SET head_seq = %s - 1", [done // AGENTS])
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ingest_auditevent")
        print(f"indexes rebuilt and analysed: {time.perf_counter() - started:.0f} s", flush=True)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"p50 {statistics.median(ms):.2f} ms, p95 {percentile(ms, 0.95):.2f} ms, "
        f"p99 {percentile(ms, 0.99):.2f} ms (n={len(ms)})"
    )


def measure(database_url: str, requests: int, skew: bool = False) -> None:
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
    from django.test import Client

    from obsportal.accounts.models import RoleAssignment
    from obsportal.accounts.services import issue_api_token

    user, _ = get_user_model().objects.get_or_create(username="bench-auditor")
    RoleAssignment.objects.update_or_create(user=user, defaults={"role": "auditor"})
    client = Client(HTTP_AUTHORIZATION=f"Token {issue_api_token(user)}")
    rng = random.Random(7)
    queries = []
    for _ in range(requests + 20):
        day = START + timedelta(days=rng.randrange(DAYS // 2 if skew else DAYS))
        agent = "agent-0" if skew else f"agent-{rng.randrange(AGENTS)}"
        queries.append((agent, day, day + timedelta(days=1)))
    if skew:
        measure_busy(client, queries, database_url)
        return

    def url(agent: str, since: datetime, until: datetime) -> str:
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        return (
            f"/api/v1/events/?agent_id={agent}&since={since.strftime(fmt)}"
            f"&until={until.strftime(fmt)}&page_size=50"
        )

    api = []
    for index, query in enumerate(queries):
        started = time.perf_counter()
        response = client.get(url(*query))
        elapsed = time.perf_counter() - started
        assert response.status_code == 200 and response.json()["results"], response.content[:300]
        if index >= 20:  # the first requests warm caches and connections
            api.append(elapsed)

    sql = (
        "SELECT id, event_id, stream_id, seq, ts, agent_id, action, result, user_id, resource,"
        " details, trace_id, span_id, pii_commitments, prev_hash, hash, received_at"
        " FROM ingest_auditevent WHERE agent_id = %s AND ts >= %s AND ts < %s"
        " ORDER BY ts DESC, id DESC LIMIT 51"
    )
    raw = []
    with psycopg.connect(psycopg_dsn(database_url)) as conn:
        plan = conn.execute("EXPLAIN " + sql, queries[0]).fetchall()
        for index, query in enumerate(queries):
            started = time.perf_counter()
            rows = conn.execute(sql, query).fetchall()
            elapsed = time.perf_counter() - started
            assert rows
            if index >= 20:
                raw.append(elapsed)
        stored = conn.execute("SELECT count(*) FROM ingest_auditevent").fetchone()[0]
    print(f"stored events: {stored:,}")
    print("plan: " + " | ".join(line for (line,) in plan[:3]))
    print(f"GET /api/v1/events/ (agent + one day, 50 rows): {summary(api)}")
    print(f"baseline, the same query as raw SQL:          {summary(raw)}")
    p95 = percentile(api, 0.95) * 1000
    print(f"goal p95 <= 20 ms: {'met' if p95 <= 20 else 'not met'} ({p95:.2f} ms)")


def measure_busy(client, queries: list[tuple], database_url: str) -> None:
    """The busy agent's events through DRF, one day and no range; the plans of both."""
    from django.db import connection

    from obsportal.accounts.permissions import visible_events
    from obsportal.events import selectors

    fmt = "%Y-%m-%dT%H:%M:%SZ"
    shapes = {
        "one day": lambda q: (
            f"/api/v1/events/?agent_id={q[0]}&since={q[1].strftime(fmt)}"
            f"&until={q[2].strftime(fmt)}&page_size=50"
        ),
        "no range": lambda q: f"/api/v1/events/?agent_id={q[0]}&page_size=50",
    }
    figures = {}
    for name, url in shapes.items():
        samples = []
        for index, query in enumerate(queries):
            started = time.perf_counter()
            response = client.get(url(query))
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and response.json()["results"], response.content
            if index >= 20:
                samples.append(elapsed)
        figures[name] = samples
    # The plan of the queryset the API runs (the same filters, the auditor's visibility).
    from django.contrib.auth import get_user_model

    auditor = get_user_model().objects.get(username="bench-auditor")
    agent, since, until = queries[0]
    from obsportal.events.selectors import clamped_to_newest

    base = visible_events(selectors.events(), auditor, agent).filter(agent_id=agent)
    day = base.filter(ts__gte=since, ts__lt=until)
    shown = {
        "one day, unbounded": day,
        "no range, unbounded": base,
        "one day, as the API runs it": clamped_to_newest(day, agent, until),
        "no range, as the API runs it": clamped_to_newest(base, agent, None),
    }
    with psycopg.connect(psycopg_dsn(database_url)) as conn:
        stored, busy = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE agent_id = 'agent-0') FROM ingest_auditevent"
        ).fetchone()
    print(f"stored events: {stored:,}, of which agent-0: {busy:,} ({100 * busy / stored:.0f}%)")
    for name, queryset in shown.items():
        sql, params = queryset.order_by(*selectors.NEWEST_FIRST)[:51].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [line for (line,) in cursor.fetchall()]
        print(f"plan, {name}: " + " | ".join(line.strip() for line in plan[:5]))
    for name, samples in figures.items():
        print(f"GET /api/v1/events/ busy agent, {name} (50 rows): {summary(samples)}")
    worst = max(percentile(samples, 0.95) for samples in figures.values()) * 1000
    print(f"goal p95 <= 50 ms: {'met' if worst <= 50 else 'not met'} ({worst:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", default="obsportal_bench_api")
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database again")
    parser.add_argument("--skew", action="store_true", help="one agent holds half of the rows")
    args = parser.parse_args()
    if args.reuse:
        database_url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    else:
        database_url = fresh_database(args.database)
        load(psycopg_dsn(database_url), args.rows, args.skew)
    measure(database_url, args.requests, args.skew)


if __name__ == "__main__":
    main()
