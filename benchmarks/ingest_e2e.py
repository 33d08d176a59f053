"""End-to-end ingest throughput, and its ratio to raw COPY of the same rows in the same run.

    .venv/bin/python benchmarks/ingest_e2e.py --events 1000000 --agents 8 --concurrency 2

SDK journals (written first, their rate printed) -> one shipper thread per journal ->
Celery over a Redis of its own -> `celery worker` -> PostgreSQL with every index of
the audit table. The baseline COPYs the very same rows, one COPY per journal, into a
table created `LIKE ingest_auditevent INCLUDING ALL` (same columns, same indexes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson
import psycopg
from _ingest_rig import (
    Redis,
    Shipping,
    Worker,
    fresh_database,
    issue_tokens,
    psycopg_dsn,
    write_journals,
)

COLUMNS = (
    "event_id, stream_id, seq, ts, agent_id, action, result, user_id, resource, details,"
    " trace_id, span_id, pii_commitments, prev_hash, hash, canonical, received_at"
)


def _canonical(line: bytes) -> str:
    """The canonical body of a journal line: the line up to its `hash` (sidecars aside)."""
    return (line[: line.rindex(b',"hash":"')] + b"}").decode()


def raw_copy(dsn: str, paths: list[Path]) -> tuple[float, int]:
    """COPY every journal's rows into a same-shaped table; return seconds and rows."""
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (LIKE ingest_auditevent INCLUDING ALL)")
        conn.commit()
        rows, started = 0, time.perf_counter()
        for path in paths:
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY bench_copy ({COLUMNS}) FROM STDIN") as copy,
            ):
                for line in path.read_bytes().split(b"\n"):
                    if not line.strip():
                        continue
                    e = orjson.loads(line)
                    copy.write_row(
                        (
                            e["event_id"], e["stream"], e["seq"], e["ts"], e["agent_id"],
                            e["action"], e["result"], e["user_id"], e["resource"],
                            orjson.dumps(e["details"]).decode(), e["trace_id"], e["span_id"],
                            orjson.dumps(e["pii_commitments"]).decode(), e["prev_hash"],
                            e["hash"], _canonical(line), "now",
                        )
                    )  # fmt: skip
                    rows += 1
            conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database", default="obsportal_bench_ingest")
    args = parser.parse_args()
    per_agent = args.events // args.agents
    total = per_agent * args.agents

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    database_url = fresh_database(args.database)
    dsn = psycopg_dsn(database_url)
    tokens = issue_tokens(database_url, args.agents)
    paths, sdk_rate = write_journals(work / "journals", args.agents, per_agent)
    print(f"SDK wrote {total:,} events into {args.agents} journals at {sdk_rate:,.0f} events/s")

    redis = Redis()
    redis.start()
    worker = Worker(database_url, redis.url, work / "worker.log", args.concurrency)
    worker.start()
    shipping = Shipping(paths, tokens, redis.url, batch_size=args.batch_size)
    # cpu_by_process.py starts its window at this line: the worker has started by now.
    print(f"shipping {total:,} events ({args.agents} shippers, worker -c {args.concurrency})...")
    started = time.perf_counter()
    shipping.start()
    shipping.join()
    e2e_seconds = time.perf_counter() - started
    worker.stop()
    redis.stop()

    with psycopg.connect(dsn) as conn:
        # The agents' rows only: issuing their tokens put the portal's own trail rows there too.
        stored, streams = conn.execute(
            "SELECT count(*), count(DISTINCT stream_id) FROM ingest_auditevent"
            " WHERE agent_id = ANY(%s)",
            [list(tokens)],
        ).fetchone()
    assert stored == total, f"stored {stored} of {total}"
    copy_seconds, copied = raw_copy(dsn, paths)
    e2e_rate, copy_rate = total / e2e_seconds, copied / copy_seconds
    print(
        f"end-to-end: {total:,} events in {e2e_seconds:.1f} s = {e2e_rate:,.0f} events/s "
        f"({streams} streams, worker -c {args.concurrency}, batches of {args.batch_size}, "
        f"{shipping.errors} resends)"
    )
    print(f"baseline raw COPY of the same rows: {copy_seconds:.1f} s = {copy_rate:,.0f} rows/s")
    print(
        f"ratio end-to-end / raw COPY: {e2e_rate / copy_rate:.2f} (goal >= 0.5); "
        f"goal 25,000 events/s: {'met' if e2e_rate >= 25_000 else 'not met'}"
    )


if __name__ == "__main__":
    main()
