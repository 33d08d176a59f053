"""Retention at scale: the dry run, pruning, and verification of a pruned stream.

    .venv/bin/python benchmarks/retention.py [--events 5000000] [--streams 50] [--prune 1000000]

In a dedicated database (`obsportal_bench_retention`, dropped and recreated):

1. loads N synthetic events in S streams with one INSERT ... SELECT generate_series (hashes
   are placeholders: the dry run and the prune read seq, ts and the policy columns only),
   spread over the last two years, three policies and a legal hold on one stream;
2. times `dry_run()` over all of them (goal <= 10 s at 5,000,000);
3. times `run_plan()` of an approved plan whose moment lets about `--prune` events go,
   through the database door with a signed anchor per chunk (goal >= 50,000 events/s);
4. loads `--month-events` more events in ten streams into one month of their own (before
   the two years, its own partition) under a one-year policy, and times the run that prunes
   them: the month goes whole, behind one anchor a stream, as one partition detached and
   dropped (goal: the drop under 1 s), beside step 3's DELETE figure of the same run;
5. loads two streams with real hash chains (`--verify-events` each), prunes the oldest
   third of one, and times `verify_stream` of both: per event, the pruned stream must be
   no slower than the unpruned baseline measured in the same run.

The database is partitioned by month (ingest migration 0013); every month of the data is
created before the load, so no row waits in the default partition. Step 3's months all
hold rows that a 6-year policy keeps, so step 3 is the chunked DELETE through the door.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "obsportal_bench_retention"
SPAN_DAYS = 730


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def setup_django(tmp: Path) -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ["DJANGO_SETTINGS_MODULE"] = "obsportal.settings"
    os.environ["OBSPORTAL_SIGNING_KEY_FILE"] = str(tmp / "bench.key")
    os.environ["OBSPORTAL_CHECKPOINT_DIR"] = str(tmp / "checkpoints")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load_synthetic(events: int, streams: int, now: datetime) -> float:
    """N events in S streams, stored in batches of 1,000 a stream as ingestion stores them;
    stream k is agent `bench-{k % 10}`, except the last five, agent `hipaa-1` (a 6-year
    policy keeps them all). N must be a multiple of 1,000 x S."""
    started = time.perf_counter()
    start = now - timedelta(days=SPAN_DAYS)
    with psycopg.connect(f"{SERVER}/{DATABASE}") as conn:
        conn.execute(
            """
            INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count,
                                       created_at, updated_at)
            SELECT 'bench-' || k,
                   CASE WHEN k >= %(s)s - 5 THEN 'hipaa-1' ELSE 'bench-' || (k %% 10) END,
                   %(n)s / %(s)s - 1, md5(k::text) || md5(k::text), 'ok', 0, now(), now()
            FROM generate_series(0, %(s)s - 1) k
            """,
            {"s": streams, "n": events},
        )
        conn.execute(
            """
            INSERT INTO ingest_auditevent (event_id, stream_id, seq, ts, agent_id, action, result,
                user_id, resource, details, trace_id, span_id, pii_commitments, prev_hash, hash,
                canonical, received_at)
            SELECT gen_random_uuid(), 'bench-' || ((g / 1000) %% %(s)s),
                   (g / (1000 * %(s)s)) * 1000 + g %% 1000,
                   %(start)s + (g * (%(span)s::float / %(n)s)) * interval '1 day',
                   CASE WHEN ((g / 1000) %% %(s)s) >= %(s)s - 5 THEN 'hipaa-1'
                        ELSE 'bench-' || (((g / 1000) %% %(s)s) %% 10) END,
                   (ARRAY['tool_execute', 'llm_call', 'data_access'])[1 + g %% 3],
                   CASE WHEN g %% 7 = 0 THEN 'denied' ELSE 'success' END,
                   'user-' || (g %% 100), 'crm://tickets/' || (g %% 1000), '{}', NULL, NULL, '{}',
                   md5(g::text) || md5(g::text), md5((g + 1)::text) || md5((g + 1)::text),
                   NULL, now()
            FROM generate_series(0, %(n)s - 1) g
            """,
            {"s": streams, "n": events, "start": start, "span": SPAN_DAYS},
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ingest_auditevent")
    return time.perf_counter() - started


def create_months(first: datetime, last: datetime) -> int:
    """Create every month partition from `first`'s month through `last`'s (the beat job
    creates months ahead only; a benchmark loads the past too)."""
    from obsportal.ingest import partitions

    month, created = partitions.month_start(first), 0
    while month <= partitions.month_start(last):
        created += partitions.create_month(month) is not None
        month = partitions.add_months(month, 1)
    return created


def load_month(events: int, month_start: datetime) -> None:
    """`events` synthetic events in ten streams `month-k` of agent `month-agent`, all inside
    the month that starts at `month_start` (28 days of it)."""
    with psycopg.connect(f"{SERVER}/{DATABASE}") as conn:
        conn.execute(
            """
            INSERT INTO ingest_stream (id, agent_id, head_seq, head_hash, status, pending_count,
                                       created_at, updated_at)
            SELECT 'month-' || k, 'month-agent', %(n)s / 10 - 1, md5(k::text) || md5(k::text),
                   'ok', 0, now(), now()
            FROM generate_series(0, 9) k
            """,
            {"n": events},
        )
        conn.execute(
            """
            INSERT INTO ingest_auditevent (event_id, stream_id, seq, ts, agent_id, action, result,
                user_id, resource, details, trace_id, span_id, pii_commitments, prev_hash, hash,
                canonical, received_at)
            SELECT gen_random_uuid(), 'month-' || (g %% 10), g / 10,
                   %(start)s + (g * (28.0 / %(n)s)) * interval '1 day', 'month-agent',
                   'llm_call', 'success', 'user-' || (g %% 100), NULL, '{}', NULL, NULL, '{}',
                   md5(g::text) || md5(g::text), md5((g + 1)::text) || md5((g + 1)::text),
                   NULL, now()
            FROM generate_series(0, %(n)s - 1) g
            """,
            {"n": events, "start": month_start},
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ingest_auditevent")


def load_chain(stream_id: str, agent: str, count: int, old: int, now: datetime) -> None:
    """A real hash chain: its first `old` events 400 days old, the rest of today. Its agent
    holds an ingest credential, as an agent whose batches ingestion admitted does."""
    from django.db import transaction

    from tests.factories import agent_credential

    agent_credential(agent)

    from agents_sdk.audit.chain import GENESIS_HASH, compute_hash
    from obsportal.ingest import storage
    from obsportal.ingest.services import locked_heads

    prev, batch = GENESIS_HASH, []
    with transaction.atomic():
        head = locked_heads(agent, [stream_id])[stream_id]
        for seq in range(count):
            ts = now - timedelta(days=400 if seq < old else 0, seconds=count - seq)
            body = {
                "v": 1,
                "event_id": str(uuid.uuid4()),
                "stream": stream_id,
                "seq": seq,
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "agent_id": agent,
                "action": "tool_execute",
                "result": "success",
                "user_id": f"user-{seq % 100}",
                "resource": None,
                "details": {"n": seq},
                "trace_id": None,
                "span_id": None,
                "pii_commitments": {},
                "prev_hash": prev,
            }
            prev = compute_hash(body, prev)
            batch.append({**body, "hash": prev, "pii": {}})
            if len(batch) == 10_000:
                storage.store_events(batch)
                batch = []
        if batch:
            storage.store_events(batch)
        head.seq, head.hash = count - 1, prev
        storage.save_heads([head])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--prune", type=int, default=1_000_000)
    parser.add_argument("--verify-events", type=int, default=150_000)
    parser.add_argument(
        "--month-events", type=int, default=None, help="events of the dropped month (N / 24)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    recreate_database()
    setup_django(tmp)
    from django.contrib.auth import get_user_model

    from obsportal.accounts.models import RoleAssignment
    from obsportal.ingest import partitions
    from obsportal.ingest.models import AuditEvent, Stream
    from obsportal.integrity.anchors import pruned_through
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.signing import create_signing_key
    from obsportal.integrity.verification.walk import verify_stream
    from obsportal.retention.models import LegalHold, RetentionPolicy
    from obsportal.retention.services import months as month_service
    from obsportal.retention.services import plans, policies, runs

    create_signing_key()
    now = datetime.now(UTC)
    month_start = datetime.combine(
        partitions.month_start(now - timedelta(days=SPAN_DAYS + 70)), datetime.min.time(), UTC
    )
    months = create_months(month_start, now + timedelta(days=93))
    print(f"created {months} month partitions, {month_start:%Y-%m} through 3 months ahead")
    seconds = load_synthetic(args.events, args.streams, now)
    print(f"loaded {args.events:,} events in {args.streams} streams in {seconds:.1f} s")

    users = []
    for name in ("alice", "bob"):
        user = get_user_model().objects.create_user(name, password="pw-bench-123456")
        RoleAssignment.objects.create(user=user, role="compliance_officer")
        users.append(user)
    alice, bob = users
    for values in (
        {"name": "agents 1 year", "framework": "soc2", "agent_pattern": "bench-*",
         "keep_days": 365},
        {"name": "denials 18 months", "framework": "custom", "agent_pattern": "bench-1",
         "result_pattern": "denied", "keep_days": 540},
        {"name": "hipaa 6 years", "framework": "hipaa", "agent_pattern": "hipaa-*",
         "keep_days": 2192},
    ):  # fmt: skip
        policies.approve_policy_change(bob, policies.request_policy(alice, **values))
    LegalHold.objects.create(
        name="case 42", reason="litigation", streams=["bench-3"], ts_from=now - timedelta(days=600)
    )
    assert RetentionPolicy.objects.filter(status="active").count() == 3

    started = time.perf_counter()
    report = plans.dry_run()
    dry = time.perf_counter() - started
    print(
        f"dry run over {args.events:,} events: {dry:.2f} s (goal <= 10 s: "
        f"{'met' if dry <= 10 else 'NOT met'}); would prune {report['events']:,} events in "
        f"{report['streams']} streams; holds keep "
        f"{sum(h['events'] for h in report['holds']):,}"
    )
    for p in report["policies"]:
        print(
            f"  {p['policy']}: {p['events']:,} events, oldest {p['oldest']}, newest {p['newest']}"
        )

    # A plan whose moment lets about --prune events of the `bench-*` streams go.
    share = args.prune / (args.events * (args.streams - 5) / args.streams)
    as_of = now - timedelta(days=SPAN_DAYS) + timedelta(days=SPAN_DAYS * share + 365)
    plan = plans.approve_plan(bob, plans.propose_plan(alice, as_of=as_of))
    print(f"plan {plan.pk}: {plan.report['events']:,} events to prune")
    started = time.perf_counter()
    outcome = runs.run_plan(plan)
    pruned_seconds = time.perf_counter() - started
    rate = outcome.pruned / pruned_seconds
    print(
        f"pruned {outcome.pruned:,} events behind {outcome.anchors} signed anchors in "
        f"{pruned_seconds:.2f} s: {rate:,.0f} events/s (goal >= 50,000: "
        f"{'met' if rate >= 50_000 else 'NOT met'}); kept by holds: "
        f"{sum(s['events'] for s in outcome.run.skipped):,}"
    )

    print(f"  months dropped whole in that run: {outcome.run.progress.get('partitions', [])}")

    # A month the policies empty whole: one partition detached and dropped behind its anchors.
    month_events = args.month_events or args.events // 24 // 10 * 10
    load_month(month_events, month_start)
    policies.approve_policy_change(
        bob,
        policies.request_policy(alice, name="month agents 1 year", framework="soc2",
                                agent_pattern="month-agent", keep_days=365),
    )  # fmt: skip
    drops: list[float] = []
    door = month_service.drop_month_partition

    def timed_door(name: str) -> int:
        started = time.perf_counter()
        try:
            return door(name)
        finally:
            drops.append(time.perf_counter() - started)

    month_service.drop_month_partition = timed_door
    # At step 3's moment: its ranges are pruned already, the month's rows are past a year.
    plan = plans.approve_plan(bob, plans.propose_plan(alice, as_of=as_of))
    started = time.perf_counter()
    outcome = runs.run_plan(plan)
    month_seconds = time.perf_counter() - started
    month_service.drop_month_partition = door
    dropped = outcome.run.progress.get("partitions", [])
    assert dropped == [f"ingest_auditevent_{month_start:%Y_%m}"], dropped
    assert outcome.pruned == month_events, (outcome.pruned, month_events)
    drop = drops[-1]
    print(
        f"month {month_start:%Y-%m} of {month_events:,} events in 10 streams dropped whole: "
        f"detach + drop {drop * 1000:.0f} ms (goal < 1 s: {'met' if drop < 1 else 'NOT met'}); "
        f"the whole run (month scan, {outcome.anchors} signed anchors, trail, drop) "
        f"{month_seconds:.2f} s = {outcome.pruned / month_seconds:,.0f} events/s, against "
        f"{rate:,.0f} events/s by DELETE above"
    )

    # Verification: a pruned stream against an unpruned one, per event, in the same run.
    n = args.verify_events
    load_chain("verify-unpruned", "verify-u", n, 0, now)
    load_chain("verify-pruned", "verify-p", n + n // 2, n // 2, now)
    policies.approve_policy_change(
        bob,
        policies.request_policy(alice, name="verify 30 days", framework="custom",
                                agent_pattern="verify-p", keep_days=30),
    )  # fmt: skip
    plan = plans.approve_plan(bob, plans.propose_plan(alice))
    runs.run_plan(plan)
    assert pruned_through("verify-pruned") == n // 2 - 1
    sign_checkpoint()
    rates = {}
    for stream_id in ("verify-unpruned", "verify-pruned", "verify-unpruned", "verify-pruned"):
        stream = Stream.objects.get(pk=stream_id)
        started = time.perf_counter()
        found = verify_stream(stream_id, stream)
        elapsed = time.perf_counter() - started
        assert found.status == "verified" and found.events_checked == n, (
            found.status,
            found.breaks,
        )
        rates.setdefault(stream_id, []).append(found.events_checked / elapsed)
    base, pruned = max(rates["verify-unpruned"]), max(rates["verify-pruned"])
    print(
        f"verification: unpruned {base:,.0f} events/s, pruned (from its anchor, "
        f"{found.pruned[0]['from']}..{found.pruned[0]['to']} by {found.pruned[0]['policy']}) "
        f"{pruned:,.0f} events/s, ratio {pruned / base:.2f} (best of two each)"
    )
    print(f"rows left: {AuditEvent.objects.count():,}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
