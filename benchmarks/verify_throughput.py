"""Verification throughput from PostgreSQL, against a raw read of the same rows.

    .venv/bin/python benchmarks/verify_throughput.py [--events 500000] [--streams 50]

Loads N hash-chained events with COPY into a dedicated database
(`obsportal_bench_verify`, dropped and recreated), signs a checkpoint, then times:

- baseline: reading every row of every stream in seq order with the verifier's
  own SQL through the same server-side (named) cursor, parsing and hashing nothing;
- verification: `verify_streams()` (recompute every hash, check every link and seq,
  sidecars, checkpoint heads, and each stream's agent-signed head: its Ed25519
  signature, its key's pin and the pin's trail record), results stored as in production.

Prints events/s of both and their ratio. Goal: verification >= 50,000 events/s.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("BENCH_VERIFY_DATABASE", "obsportal_bench_verify")


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def setup_django(tmp: Path) -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    os.environ.setdefault("CELERY_BROKER_URL", "")
    os.environ["DJANGO_SETTINGS_MODULE"] = "obsportal.settings"
    os.environ["OBSPORTAL_SIGNING_KEY_FILE"] = str(tmp / "bench.key")
    os.environ["OBSPORTAL_CHECKPOINT_DIR"] = str(tmp / "checkpoints")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def chained_rows(streams: int, per_stream: int):
    """Yield (stream rows, event rows as COPY text) with real envelope-v1 hashes."""
    from agents_sdk.audit.canonical import canonicalize
    from agents_sdk.audit.chain import GENESIS_HASH, compute_hash

    start = datetime(2026, 1, 1, tzinfo=UTC)
    stream_rows, buffer = [], io.StringIO()
    pk = 0
    for s in range(streams):
        stream_id = str(uuid.uuid4())
        agent = f"agent-{s % 10}"
        prev = GENESIS_HASH
        for seq in range(per_stream):
            pk += 1
            ts = (start + timedelta(milliseconds=pk)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            body = {
                "v": 1,
                "event_id": str(uuid.uuid4()),
                "stream": stream_id,
                "seq": seq,
                "ts": ts,
                "agent_id": agent,
                "action": ("tool_execute", "llm_call", "data_access")[seq % 3],
                "result": "success" if seq % 7 else "denied",
                "user_id": f"user-{seq % 100}@example.com",
                "resource": f"crm://tickets/{seq % 1000}",
                "details": {"tool": "search_tickets", "args": {"q": f"order {seq}"}, "n": seq},
                "trace_id": uuid.uuid4().hex,
                "span_id": uuid.uuid4().hex[:16],
                "pii_commitments": {},
                "prev_hash": prev,
            }
            digest = compute_hash(body, prev)
            fields = [
                str(pk),
                body["event_id"],
                stream_id,
                str(seq),
                ts,
                agent,
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
            ]
            buffer.write("\t".join(f.replace("\\", "\\\\") for f in fields) + "\n")
            prev = digest
        stream_rows.append((stream_id, agent, per_stream - 1, prev))
    return stream_rows, buffer.getvalue()


def load(streams: int, per_stream: int) -> tuple[float, list[tuple]]:
    stream_rows, copy_text = chained_rows(streams, per_stream)
    started = time.perf_counter()
    with psycopg.connect(f"{SERVER}/{DATABASE}") as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "COPY ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count, "
                "created_at, updated_at) FROM STDIN"
            ) as copy:
                for row in stream_rows:
                    copy.write_row((*row, "ok", 0, datetime.now(UTC), datetime.now(UTC)))
            with cur.copy(
                "COPY ingest_auditevent (id, event_id, stream_id, seq, ts, agent_id, action, "
                "result, user_id, resource, details, trace_id, span_id, pii_commitments, "
                "prev_hash, hash, canonical, received_at) FROM STDIN"
            ) as copy:
                copy.write(copy_text)
            cur.execute(
                "SELECT setval('ingest_auditevent_id_seq', (SELECT max(id) FROM ingest_auditevent))"
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ingest_auditevent")
    return time.perf_counter() - started, stream_rows


def sign_heads(stream_rows: list[tuple]) -> None:
    """What shipping leaves beside the rows: each agent's credential with its key pinned (on
    the trail) and each stream's agent-signed head, so verification checks signatures too."""
    from agents_sdk.audit.head_signing import HeadSigner
    from obsportal.accounts.services import issue_agent_credential
    from obsportal.ingest import heads, signals
    from obsportal.ingest.models import AgentKey

    signers: dict[str, HeadSigner] = {}
    signed = []
    for stream_id, agent, seq, digest in stream_rows:
        if agent not in signers:
            signers[agent] = HeadSigner.from_seed(agent.encode().ljust(32, b"\0"))
            credential = issue_agent_credential(agent, "benchmark").credential
            key = heads._pin_first_use(credential.pk, agent, signers[agent].public_key)
            signals.agent_key_pinned.send(sender=AgentKey, detail=heads.pin_detail(key))
        signed.append(signers[agent].sign(agent, stream_id, seq, digest))
    heads.store_signed_heads(signed)


def raw_read(chunk_size: int) -> tuple[int, float]:
    """The verifier's read path alone: same SQL, same server-side cursor, no parsing or hashing."""
    from django.db import connection, transaction

    from obsportal.ingest.models import Stream
    from obsportal.integrity.verification.walk import _STREAM_ROWS_SQL

    started, rows = time.perf_counter(), 0
    for stream_id in sorted(Stream.objects.values_list("id", flat=True)):
        with transaction.atomic(), connection.chunked_cursor() as cursor:
            cursor.execute(_STREAM_ROWS_SQL, [stream_id])
            while batch := cursor.fetchmany(chunk_size):
                rows += len(batch)
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    recreate_database()
    setup_django(tmp)
    per_stream = args.events // args.streams
    total = per_stream * args.streams
    seconds, stream_rows = load(args.streams, per_stream)
    print(f"loaded {total:,} events in {args.streams} streams with COPY in {seconds:.1f} s")
    sign_heads(stream_rows)

    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.signing import create_signing_key
    from obsportal.integrity.verification import CHUNK_SIZE, verify_streams

    create_signing_key()
    sign_checkpoint()
    for round_ in range(1, args.rounds + 1):
        rows, raw_seconds = raw_read(CHUNK_SIZE)
        started = time.perf_counter()
        run = verify_streams(trigger="benchmark")
        verify_seconds = time.perf_counter() - started
        # Each run also writes its result to the portal's trail: one more event a round.
        assert run.status == "verified" and run.events_checked == rows >= total, run.status
        signed = run.streams.filter(agent_head__status="signed").count()
        assert signed == args.streams, f"{signed} of {args.streams} streams signed"
        raw_rate, verify_rate = rows / raw_seconds, total / verify_seconds
        print(
            f"round {round_}: raw read {raw_rate:,.0f} rows/s ({raw_seconds:.2f} s); "
            f"verification {verify_rate:,.0f} events/s ({verify_seconds:.2f} s); "
            f"ratio {verify_rate / raw_rate:.2f}; goal 50,000 events/s: "
            f"{'met' if verify_rate >= 50_000 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
