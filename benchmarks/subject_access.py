"""Access export (GDPR Art. 15) for one data subject among N stored events.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/obsportal_bench_subjects \\
        .venv/bin/python -m benchmarks.subject_access [--events 5000000] [--rounds 3]

The script drops and recreates the database named in DATABASE_URL (it refuses a name
without "bench"), migrates it, and loads N audit rows in PostgreSQL itself (INSERT ...
SELECT generate_series: the rows need not chain, the export reads no hash): 50 streams,
20 agents, 50,000 users (each user ~N/50,000 events), subject keys computed by the portal's
own HMAC, and an e-mail sidecar on every tenth event. The portal's secondary indexes are
dropped during the load and rebuilt after it, as they are in production. Then per round:

- **export**: `subject_data()` for one subject (their events through the subject-key
  indexes, their sidecar values, the agents' declarations, the portal's consultations
  from its trail) rendered to JSON and CSV: what the Celery job does before the PDF;
- **export + PDF**: the same plus the WeasyPrint PDF;
- **baseline**: the same export with index and bitmap scans disabled, i.e. the same
  query without the subject-key indexes (a sequential scan of the table).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import dj_database_url
import psycopg

USERS = 50_000


def _recreate(url: str) -> None:
    config = dj_database_url.parse(url)
    name = config["NAME"]
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the database name must contain 'bench'")
    admin = (
        f"host={config['HOST']} port={config['PORT'] or 5432} user={config['USER']} dbname=postgres"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _load(n: int) -> dict[str, float]:
    from django.db import connection

    from obsportal.ingest.subjects import subject_key

    timings = {}
    started = time.perf_counter()
    with connection.cursor() as c:
        c.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
            "('ingest_auditevent', 'ingest_personaldatum') AND indexdef NOT LIKE '%UNIQUE%'"
        )
        secondary = c.fetchall()
        for name, _ in secondary:
            c.execute(f'DROP INDEX "{name}"')
        c.execute("CREATE TEMP TABLE bench_keys (n int PRIMARY KEY, key text)")
        c.execute(
            "INSERT INTO bench_keys SELECT * FROM unnest(%s::int[], %s::text[])",
            [list(range(USERS)), [subject_key(f"user-{i}") for i in range(USERS)]],
        )
        c.execute(
            "INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count,"
            " created_at, updated_at) SELECT 'bench-' || s, 'agent-' || (s % 20), -1,"
            " repeat('0', 64), 'ok', 0, now(), now() FROM generate_series(0, 49) s"
        )
        c.execute(
            """
            INSERT INTO ingest_auditevent (event_id, stream_id, seq, ts, agent_id, action, result,
                user_id, resource, details, trace_id, span_id, pii_commitments, prev_hash, hash,
                canonical, received_at, subject_key)
            SELECT gen_random_uuid(), 'bench-' || (i %% 50), i / 50,
                timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
                'agent-' || (i %% 50 %% 20),
                (ARRAY['tool_execute', 'llm_call', 'data_access'])[i %% 3 + 1],
                CASE WHEN i %% 7 = 0 THEN 'failure' ELSE 'success' END,
                'user-' || (i %% %(users)s), 'ticket:' || (i %% 997),
                jsonb_build_object('i', i, 'tool', 'search'), NULL, NULL,
                CASE WHEN i %% 10 = 0 THEN jsonb_build_object('email', repeat('ab', 32))
                     ELSE '{}'::jsonb END,
                repeat('0', 64), md5(i::text) || md5((i + 1)::text),
                '{"details":{"i":' || i || ',"tool":"search"},"pii_commitments":'
                    || CASE WHEN i %% 10 = 0 THEN '{"email":"' || repeat('ab', 32) || '"}'
                            ELSE '{}' END || '}',
                now(), k.key
            FROM generate_series(0, %(n)s - 1) i JOIN bench_keys k ON k.n = i %% %(users)s
            """,
            {"n": n, "users": USERS},
        )
        c.execute(
            "INSERT INTO ingest_personaldatum (event_id, field, value, salt, subject_key)"
            " SELECT e.id, 'email', to_jsonb(e.user_id || '@example.org'), repeat('0', 32),"
            " e.subject_key FROM ingest_auditevent e WHERE e.pii_commitments <> '{}'::jsonb"
        )
        timings["load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for _, definition in secondary:
            c.execute(definition)
        c.execute("ANALYZE ingest_auditevent")
        c.execute("ANALYZE ingest_personaldatum")
        timings["index_s"] = time.perf_counter() - started
    return timings


def _export(keys: list[str], pdf: bool) -> int:
    from obsportal.compliance.renderers import subject_export as renderers
    from obsportal.compliance.subjects import records as subjects

    content = {
        "cover": {"reference": "R-bench", "subject": "user-7"},
        **subjects.subject_data(keys),
    }
    renderers.render_json(content)
    renderers.render_csv(content)
    if pdf:
        renderers.render_pdf(content)
    return len(content["events"])


def _timed(call) -> tuple[float, int]:
    started = time.perf_counter()
    found = call()
    return time.perf_counter() - started, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise SystemExit("set DATABASE_URL to a database of its own (its name containing 'bench')")
    _recreate(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "obsportal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from obsportal.ingest.subjects import subject_key

    call_command("migrate", verbosity=0)
    print(f"loading {args.events:,} events ...", file=sys.stderr)
    timings = _load(args.events)
    print(f"load {timings['load_s']:.1f} s, indexes {timings['index_s']:.1f} s", file=sys.stderr)
    keys = [subject_key("user-7"), subject_key("user-7@example.org")]
    _export(keys, pdf=True)  # warm: WeasyPrint's fonts, the plan cache
    print(
        f"access export for one subject among {args.events:,} events (load avg "
        f"{os.getloadavg()[0]:.1f})"
    )
    for round_ in range(1, args.rounds + 1):
        export_s, found = _timed(lambda: _export(keys, pdf=False))
        pdf_s, _ = _timed(lambda: _export(keys, pdf=True))
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SET LOCAL enable_indexscan = off")
            c.execute("SET LOCAL enable_bitmapscan = off")
            c.execute("SET LOCAL enable_indexonlyscan = off")
            base_s, base_found = _timed(lambda: _export(keys, pdf=False))
        assert base_found == found
        print(
            f"  round {round_}: export {export_s:.3f} s, export + PDF {pdf_s:.3f} s "
            f"({found} events); baseline without the indexes {base_s:.3f} s "
            f"({base_s / export_s:.0f}x slower)"
        )
    print(
        f"goal <= 2 s (last round): export {'met' if export_s <= 2 else 'NOT met'}, "
        f"export + PDF {'met' if pdf_s <= 2 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
