"""A quarterly SOC 2 report over N events: time and peak memory, JSON and PDF.

    .venv/bin/python benchmarks/reports.py [--events 5000000] [--streams 40]

Fills a dedicated database (`obsportal_bench_reports`, dropped and recreated) with N events
spread over Q3 2026 by one INSERT ... SELECT generate_series per chunk (the report reads
rows, it does not verify hashes, so the rows carry placeholder hashes and no canonical body):
40 streams of 20 agents, tool_execute / llm_call / permission_request, 1 in 20 denied, plus
the portal's own trail (credential, role and login events). Signs one checkpoint. Then, each
in a fresh process (peak RSS = ru_maxrss of that process):

- JSON: the run without the PDF: every population counted and streamed to CSV, breakdowns,
  statements, chain coverage, the seeded sample, the signed report.json and report.html;
- PDF: the same run with the PDF/A-3b, every CSV and report.json attached.

Goals: JSON <= 20 s, PDF <= 60 s, peak memory <= 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import verify_throughput as rig  # noqa: E402

rig.DATABASE = "obsportal_bench_reports"
SINCE, UNTIL = "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z"
CHUNK = 500_000
TRAIL_ACTIONS = ("credential.issue", "credential.revoke", "role.assign", "auth.login_failed")


def load(events: int, streams: int) -> float:
    import psycopg

    started = time.perf_counter()
    step_us = int(92 * 86400 * 1e6 / events)  # the quarter, evenly
    with psycopg.connect(f"{rig.SERVER}/{rig.DATABASE}", autocommit=True) as conn:
        for low in range(0, events, CHUNK):
            high = min(events, low + CHUNK) - 1
            conn.execute(
                """
                INSERT INTO ingest_auditevent (event_id, stream_id, seq, ts, agent_id, action,
                  result, user_id, resource, details, pii_commitments, prev_hash, hash, received_at)
                SELECT md5(g::text)::uuid, 'bench-' || (g %% %(s)s), g / %(s)s,
                  timestamptz '2026-07-01 00:00:00+00'
                    + g::bigint * %(step)s * interval '1 microsecond',
                  'agent-' || ((g %% %(s)s) / 2),
                  (ARRAY['tool_execute','llm_call','permission_request'])[g %% 3 + 1],
                  CASE WHEN g %% 20 = 0 THEN 'denied'
                       WHEN g %% 53 = 0 THEN 'failure' ELSE 'success' END,
                  'user-' || (g %% 100) || '@example.com', 'crm://tickets/' || (g %% 1000),
                  CASE WHEN g %% 3 = 1 THEN jsonb_build_object('model', 'model-' || (g %% 2))
                       ELSE '{}'::jsonb END,
                  '{}'::jsonb, repeat('0', 64), md5(g::text) || md5((g + 1)::text), now()
                FROM generate_series(%(low)s, %(high)s) AS g
                """,
                {"s": streams, "step": step_us, "low": low, "high": high},
            )
            print(f"  {high + 1:,} rows", flush=True)
        per_stream = events // streams
        conn.execute(
            """
            INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count,
              created_at, updated_at)
            SELECT stream_id, min(agent_id), max(seq), repeat('a', 64), 'ok', 0, now(), now()
            FROM ingest_auditevent GROUP BY stream_id
            """
        )
        # The portal's own trail: 400 change and login events over the quarter.
        conn.execute(
            """
            INSERT INTO ingest_auditevent (event_id, stream_id, seq, ts, agent_id, action, result,
              user_id, resource, details, pii_commitments, prev_hash, hash, received_at)
            SELECT md5('trail' || g)::uuid, 'obsportal-trail', g,
              timestamptz '2026-07-01 00:00:00+00' + g * interval '5 hours', 'obsportal',
              (%(actions)s::text[])[g %% 4 + 1],
              CASE WHEN g %% 4 = 3 THEN 'denied' ELSE 'success' END,
              'admin', 'user:1', '{}'::jsonb, '{}'::jsonb, repeat('0', 64),
              md5('t' || g) || md5('u' || g), now()
            FROM generate_series(0, 399) AS g
            """,
            {"actions": list(TRAIL_ACTIONS)},
        )
        conn.execute(
            "INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count, "
            "created_at, updated_at) VALUES ('obsportal-trail', 'obsportal', 399, "
            "md5('t399') || md5('u399'), 'ok', 0, now(), now())"
        )
        conn.execute("VACUUM ANALYZE ingest_auditevent")
        print(f"  {per_stream:,} events a stream", flush=True)
    return time.perf_counter() - started


def child(tmp: Path, pdf: bool) -> None:
    os.environ["OBSPORTAL_REPORT_PDF"] = "1" if pdf else "0"
    os.environ["OBSPORTAL_REPORT_DIR"] = str(tmp / ("pdf" if pdf else "json"))
    rig.setup_django(tmp)
    from django.contrib.auth import get_user_model

    from obsportal.compliance.reports.build import build_report, report_dir
    from obsportal.compliance.reports.services import request_report
    from obsportal.params import read_moment
    from tests.factories import with_role

    user, _ = get_user_model().objects.get_or_create(username="bench-officer")
    with_role(user, "administrator")
    run = request_report(
        "soc2", read_moment(SINCE), read_moment(UNTIL), user, seed="bench", queue=False
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    run = build_report(run.pk)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    document = json.loads((report_dir(run) / "report.json").read_bytes())
    largest = max(document["files"], key=lambda f: f["rows"])
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "rss_before_mb": round(before),
                "peak_mb": round(peak),
                "status": run.status,
                "files": {name: f["bytes"] for name, f in run.files.items()},
                "largest_population": [largest["name"], largest["rows"]],
                "coverage_streams": len(document["coverage"]["streams"]),
            }
        )
    )


def run_child(tmp: Path, pdf: bool) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", "pdf" if pdf else "json", "--tmp", str(tmp)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--streams", type=int, default=40)
    parser.add_argument("--child", choices=["json", "pdf"])
    parser.add_argument("--tmp")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use the database and signing key a run with the same --tmp loaded",
    )
    args = parser.parse_args()
    if args.child:
        child(Path(args.tmp), args.child == "pdf")
        return
    if args.reuse and not args.tmp:
        parser.error("--reuse needs the --tmp directory of the run that loaded the database")
    tmp = Path(args.tmp or tempfile.mkdtemp(prefix="bench-reports-"))
    print(f"working directory (for --reuse --tmp): {tmp}", flush=True)
    if not args.reuse:
        rig.recreate_database()
        rig.setup_django(tmp)
        print(
            f"loaded {args.events:,} events in {load(args.events, args.streams):.0f} s", flush=True
        )
        from obsportal.integrity.checkpoints import sign_checkpoint
        from obsportal.integrity.signing import create_signing_key

        create_signing_key()
        sign_checkpoint()
    print(f"load average: {os.getloadavg()}")
    for pdf, goal in ((False, 20), (True, 60)):
        figures = run_child(tmp, pdf)
        name = "PDF" if pdf else "JSON"
        met = "met" if figures["seconds"] <= goal else "NOT met"
        print(
            f"{name}: {figures['seconds']:.1f} s (goal <= {goal} s: "
            f"{met}), peak RSS {figures['peak_mb']} MB "
            f"(before the build {figures['rss_before_mb']} MB; goal <= 500 MB: "
            f"{'met' if figures['peak_mb'] <= 500 else 'NOT met'}); largest population "
            f"{figures['largest_population'][0]} {figures['largest_population'][1]:,} rows; "
            f"files {figures['files']}",
            flush=True,
        )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
