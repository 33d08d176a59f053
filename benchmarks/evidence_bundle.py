"""Evidence bundle build: peak memory and speed, against a raw COPY of the same rows.

    .venv/bin/python benchmarks/evidence_bundle.py [--events 1000000] [--streams 10]

Loads N hash-chained events of one agent with COPY into a dedicated database
(`obsportal_bench_bundle`, dropped and recreated) and signs a checkpoint; then, in a
fresh process each:

- baseline: `COPY (SELECT <the bundle's columns> ...) TO STDOUT` of the same rows, read
  and discarded (the database's own export speed);
- the build: `plan_bundle` + `write_bundle` into a file, exactly what the export task
  runs; its peak RSS (ru_maxrss) and its RSS before building;
- the offline verifier on that file (`agents_sdk.offline verify-bundle --key ...`).

Goal: a 1,000,000-event bundle builds with a peak RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import verify_throughput as rig  # noqa: E402

rig.DATABASE = "obsportal_bench_bundle"
AGENT = "agent-0"


def load(streams: int, per_stream: int) -> float:
    """COPY `streams` chains of AGENT into the database, written as they are generated."""
    import uuid
    from datetime import UTC, datetime, timedelta

    import psycopg

    from agents_sdk.audit.canonical import canonicalize
    from agents_sdk.audit.chain import GENESIS_HASH, compute_hash

    start, pk, started = datetime(2026, 1, 1, tzinfo=UTC), 0, time.perf_counter()
    with psycopg.connect(f"{rig.SERVER}/{rig.DATABASE}") as conn, conn.cursor() as cur:
        heads = []
        with cur.copy(
            "COPY ingest_auditevent (id, event_id, stream_id, seq, ts, agent_id, action, result, "
            "user_id, resource, details, trace_id, span_id, pii_commitments, prev_hash, hash, "
            "canonical, received_at) FROM STDIN"
        ) as copy:
            for _ in range(streams):
                stream_id, prev = str(uuid.uuid4()), GENESIS_HASH
                for seq in range(per_stream):
                    pk += 1
                    ts = (start + timedelta(milliseconds=pk)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    body = {
                        "v": 1,
                        "event_id": str(uuid.uuid4()),
                        "stream": stream_id,
                        "seq": seq,
                        "ts": ts,
                        "agent_id": AGENT,
                        "action": ("tool_execute", "llm_call", "data_access")[seq % 3],
                        "result": "success" if seq % 7 else "denied",
                        "user_id": f"user-{seq % 100}@example.com",
                        "resource": f"crm://tickets/{seq % 1000}",
                        "details": {"tool": "search_tickets", "args": {"q": f"order {seq}"}},
                        "trace_id": uuid.uuid4().hex,
                        "span_id": uuid.uuid4().hex[:16],
                        "pii_commitments": {},
                        "prev_hash": prev,
                    }
                    digest = compute_hash(body, prev)
                    copy.write_row(
                        (
                            pk,
                            body["event_id"],
                            stream_id,
                            seq,
                            ts,
                            AGENT,
                            body["action"],
                            body["result"],
                            body["user_id"],
                            body["resource"],
                            canonicalize(body["details"]).decode(),
                            body["trace_id"],
                            body["span_id"],
                            "{}",
                            prev,
                            digest,
                            canonicalize(body).decode(),
                            ts,
                        )
                    )
                    prev = digest
                heads.append((stream_id, per_stream - 1, prev))
        with cur.copy(
            "COPY ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for stream_id, head_seq, head_hash in heads:
                now = datetime.now(UTC)
                copy.write_row((stream_id, AGENT, head_seq, head_hash, "ok", 0, now, now))
        cur.execute("SELECT setval('ingest_auditevent_id_seq', %s)", [pk])
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ingest_auditevent")
    return time.perf_counter() - started


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_build(tmp: Path, out: Path) -> None:
    rig.setup_django(tmp)
    from obsportal.integrity.evidence import plan_bundle, write_bundle

    before = peak_mb()
    started = time.perf_counter()
    plan = plan_bundle(AGENT, None, None, sign_if_needed=False)
    with out.open("wb") as handle:
        written = write_bundle(plan, handle)
    seconds = time.perf_counter() - started
    print(f"{written} {seconds:.3f} {before:.1f} {peak_mb():.1f}")


def child_copy(tmp: Path) -> None:
    import psycopg

    started, size = time.perf_counter(), 0
    with psycopg.connect(f"{rig.SERVER}/{rig.DATABASE}") as conn, conn.cursor() as cur:
        sql = (
            "COPY (SELECT canonical, hash "
            f"FROM ingest_auditevent WHERE agent_id = '{AGENT}' ORDER BY stream_id, seq) "
            "TO STDOUT"
        )
        with cur.copy(sql) as copy:
            for block in copy:
                size += len(block)
    print(f"{size} {time.perf_counter() - started:.3f}")


def run_child(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(done.stdout + done.stderr)
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--child", choices=["build", "copy"])
    parser.add_argument("--tmp")
    args = parser.parse_args()
    if args.child:
        tmp = Path(args.tmp)
        if args.child == "build":
            child_build(tmp, tmp / "bundle.jsonl")
        else:
            child_copy(tmp)
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    rig.recreate_database()
    rig.setup_django(tmp)
    per_stream = args.events // args.streams
    loaded = load(args.streams, per_stream)
    print(
        f"loaded {per_stream * args.streams:,} events ({args.streams} streams of {AGENT}, "
        f"{per_stream:,} each) with COPY in {loaded:.1f} s"
    )
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.signing import create_signing_key

    key = create_signing_key()
    sign_checkpoint()

    size, copy_seconds = run_child("--child", "copy", "--tmp", str(tmp))
    written, seconds, before, peak = run_child("--child", "build", "--tmp", str(tmp))
    events, seconds, copy_seconds = int(written), float(seconds), float(copy_seconds)
    bundle = tmp / "bundle.jsonl"
    print(
        f"baseline COPY TO: {events / copy_seconds:,.0f} rows/s ({int(size) / 2**20:,.0f} MiB "
        f"in {copy_seconds:.2f} s)"
    )
    print(
        f"bundle build: {events:,} events, {bundle.stat().st_size / 2**20:,.0f} MiB in "
        f"{seconds:.2f} s ({events / seconds:,.0f} events/s, {copy_seconds / seconds:.2f} of "
        f"COPY); RSS before {float(before):.0f} MB, peak {float(peak):.0f} MB; goal peak <= "
        f"200 MB: {'met' if float(peak) <= 200 else 'NOT met'}"
    )
    started = time.perf_counter()
    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents_sdk.offline",
            "verify-bundle",
            str(bundle),
            "--key",
            key.verifier_key,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    verdict = verified.stdout.strip().splitlines()[-1]
    print(
        f"offline verification: {events / (time.perf_counter() - started):,.0f} events/s, "
        f"exit {verified.returncode}: {verdict[:100]}"
    )


if __name__ == "__main__":
    main()
