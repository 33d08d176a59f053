"""Server time of the integrity pages (streams, incidents, checkpoints, dead letters) at size.

    .venv/bin/python benchmarks/integrity_pages.py                       # 10,000 streams
    .venv/bin/python benchmarks/integrity_pages.py --streams 2000 --requests 10   # quick
    .venv/bin/python benchmarks/integrity_pages.py --reuse     # the pages again, same data

A dedicated database (`obsportal_bench_integrity`, dropped first) is filled with SQL: N
streams of 100 agents, one stored event each, 24 verification runs over every stream
(hourly for a day: N x 24 results), 150 checkpoints signing every head (N x 150 heads),
and about 1,000 incidents (500 forks, 200 gaps, 300 streams whose newest run found a broken
link) plus 5,000 dead letters. Each page is then requested through the whole Django stack
in process (session, role, capability, the trail middleware writing its event, the view,
the template) as a compliance officer, and the scoped pages as an auditor scoped to 2 agents.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import psycopg
from _ingest_rig import ROOT, fresh_database, psycopg_dsn

FILL = """
INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count,
                           created_at, updated_at)
SELECT format('stream-%s', lpad(i::text, 6, '0')), format('agent-%s', i % 100), 0,
       md5(i::text) || md5((i + 1)::text),
       CASE WHEN i % 20 = 1 THEN 'forked' ELSE 'ok' END,
       CASE WHEN i % 50 = 2 THEN 3 ELSE 0 END, now(), now()
FROM generate_series(1, %(n)s) AS i;

INSERT INTO ingest_auditevent (event_id, seq, ts, agent_id, action, result, details,
       pii_commitments, prev_hash, hash, received_at, stream_id)
SELECT gen_random_uuid(), 0, now() - interval '1 hour', s.agent_id, 'tool_execute', 'success',
       '{"i": 0}', '{}', repeat('0', 64), s.head_hash, now(), s.id
FROM ingest_stream s;

INSERT INTO ingest_pendingevent (seq, payload, received_at, stream_id)
SELECT k, '{}', now() - interval '10 minutes', s.id
FROM ingest_stream s, generate_series(2, 4) AS k WHERE s.pending_count > 0;

INSERT INTO ingest_integrityincident (seq, kind, stored_hash, offered_hash, offered_event,
       detected_at, stream_id)
SELECT 0, 'fork', s.head_hash, md5(s.id) || md5(s.id || 'x'),
       jsonb_build_object('v', 1, 'seq', 0, 'stream', s.id, 'agent_id', s.agent_id,
                          'action', 'rewritten', 'hash', md5(s.id) || md5(s.id || 'x')),
       now() - interval '30 minutes', s.id
FROM ingest_stream s WHERE s.status = 'forked';

INSERT INTO ingest_rejectedbatch (received_at, agent_id, reason_code, reason, event_count, sample)
SELECT now() - (i || ' seconds')::interval, format('agent-%s', i % 100),
       (ARRAY['bad_hash', 'malformed', 'wrong_agent', 'fork', 'oversized'])[1 + i % 5],
       'a reason of ' || i, 1, '[{"seq": 1}]'
FROM generate_series(1, 5000) AS i;

INSERT INTO integrity_verificationrun (started_at, finished_at, trigger, status, streams_checked,
       streams_with_problems, events_checked, checkpoints_checked, checkpoint_problems, error)
SELECT now() - ((25 - r) || ' hours')::interval, now() - ((25 - r) || ' hours')::interval,
       'schedule', 'problems', %(n)s, 300, %(n)s, 20, '[]', ''
FROM generate_series(1, 24) AS r;

INSERT INTO integrity_streamverification (stream_id, status, events_checked, verified_from,
       verified_to, last_seq, recorded_head_seq, first_break, breaks, gaps, forks, pruned, erased,
       checkpoint_disagreements, problems, run_id)
SELECT s.id,
       CASE WHEN s.status = 'forked' THEN 'forked'
            WHEN right(s.id, 6)::int % 33 = 3
                 AND r.id = (SELECT max(id) FROM integrity_verificationrun)
            THEN 'broken' ELSE 'verified' END,
       1, 0, 0, 0, 0, NULL, '[]', '[]', '[]', '[]', '[]', '[]', 0, r.id
FROM ingest_stream s, integrity_verificationrun r
ORDER BY r.id, s.id;

UPDATE integrity_streamverification SET problems = 1,
       first_break = '{"seq": 0, "event_id": null, "reason": "hash does not match"}'
WHERE status = 'broken';

INSERT INTO integrity_checkpoint (issued_at, origin, tree_size, root_hash, key_id, note, number,
       previous_hash)
SELECT now() - ((151 - c) * interval '10 minutes'), 'bench/checkpoints', %(n)s,
       md5(c::text) || md5(c::text), 'abcd1234',
       format(E'bench/checkpoints\n%%s\nroot\nnumber %%s\n\n- bench sig\n', %(n)s, c), c,
       repeat('0', 64)
FROM generate_series(1, 150) AS c;

INSERT INTO integrity_checkpointhead (leaf_index, stream_id, seq, hash, checkpoint_id)
SELECT row_number() OVER (PARTITION BY c.id ORDER BY s.id) - 1, s.id, 0, s.head_hash, c.id
FROM integrity_checkpoint c, ingest_stream s;
"""


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database", default="obsportal_bench_integrity")
    parser.add_argument("--reuse", action="store_true", help="time the pages of a filled database")
    args = parser.parse_args()
    if args.reuse:
        database_url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    else:
        database_url = fresh_database(args.database)
    started = time.perf_counter()
    with psycopg.connect(psycopg_dsn(database_url), autocommit=True) as conn:
        if not args.reuse:
            conn.execute(FILL.replace("%(n)s", str(args.streams)).replace("%%", "%"))
            conn.execute("VACUUM ANALYZE")
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "ingest_stream",
                "integrity_streamverification",
                "integrity_checkpointhead",
                "ingest_integrityincident",
                "ingest_rejectedbatch",
            )
        }
    print(f"filled in {time.perf_counter() - started:.1f} s: {counts}")

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
    from obsportal.ingest.models import IntegrityIncident, RejectedBatch
    from obsportal.integrity.models import StreamVerification

    people = {}
    for name, role, agents in (
        ("bench-officer", "compliance_officer", None),
        ("bench-scoped", "auditor", ["agent-1", "agent-2"]),
    ):
        user, _ = get_user_model().objects.get_or_create(username=name)
        RoleAssignment.objects.update_or_create(
            user=user, defaults={"role": role, "scope_agents": agents or []}
        )
        client = Client()
        client.force_login(user)
        people[name] = client
    fork = IntegrityIncident.objects.order_by("id").first().pk
    letter = RejectedBatch.objects.order_by("id").first().pk
    finding = StreamVerification.objects.filter(status="broken").order_by("-id").first().pk
    gap_stream = "stream-" + "2".zfill(6)
    pages = [
        ("bench-officer", "/streams/"),
        ("bench-officer", "/streams/?state=broken"),
        ("bench-officer", "/streams/?state=waiting"),
        ("bench-officer", "/streams/?agent_id=agent-7"),
        ("bench-officer", "/streams/stream-000101/"),
        ("bench-officer", "/incidents/"),
        ("bench-officer", "/incidents/?kind=fork"),
        ("bench-officer", "/incidents/?page=10"),
        ("bench-officer", f"/incidents/forks/{fork}/"),
        ("bench-officer", f"/incidents/gaps/{gap_stream}/"),
        ("bench-officer", f"/incidents/findings/{finding}/"),
        ("bench-officer", "/checkpoints/"),
        ("bench-officer", "/checkpoints/150/"),
        ("bench-officer", "/dead-letters/"),
        ("bench-officer", "/dead-letters/?reason_code=bad_hash"),
        ("bench-officer", f"/dead-letters/{letter}/"),
        ("bench-officer", "/api/v1/incidents/"),
        ("bench-officer", "/api/v1/dead-letters/"),
        ("bench-officer", "/api/v1/streams/?state=broken"),
        ("bench-scoped", "/streams/"),
        ("bench-scoped", "/incidents/"),
        ("bench-scoped", "/checkpoints/"),
        ("bench-scoped", "/checkpoints/150/"),
        ("bench-scoped", "/api/v1/checkpoints/"),
    ]
    print(f"{'who':14} {'page':42} {'p50 ms':>8} {'p95 ms':>8}")
    for who, url in pages:
        client, samples = people[who], []
        for index in range(args.requests + 3):
            begun = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - begun
            assert response.status_code == 200, (url, response.status_code)
            if index >= 3:
                samples.append(elapsed * 1000)
        print(
            f"{who:14} {url:42} {statistics.median(samples):8.1f} {percentile(samples, 0.95):8.1f}"
        )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
