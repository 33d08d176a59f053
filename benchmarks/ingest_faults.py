"""The issue's fault run: 200,000 events, 5 kill -9 of the worker, Redis and PostgreSQL down 30 s.

    .venv/bin/python benchmarks/ingest_faults.py --events 200000 --outage 30

Everything runs on instances of its own: a PostgreSQL cluster (initdb, fsync on), a
redis-server without persistence (so stopping it loses every queued message and
result), `celery worker -c 2`. SDK journals ship through one shipper thread per agent.
In one run: five kill -9 at random points between 5% and 45% of the events (alternately
a pool child and the whole worker with its pool), Redis killed for `--outage` seconds at
55%, PostgreSQL stopped (immediate mode, like a crash) for `--outage` seconds at 75%.
Then: every stored row is compared with its journal line and every chain is verified
with the independent implementation (tests/independent_chain.py).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import tempfile
import time
from pathlib import Path

import redis as redis_client
from _ingest_rig import Postgres, Redis, Shipping, Worker, issue_tokens, write_journals


def wait_broker_idle(url: str, timeout: float) -> bool:
    client = redis_client.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.llen("ingest") == 0 and client.hlen("unacked") == 0:
            return True
        time.sleep(0.5)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--outage", type=float, default=30.0, help="seconds each is down")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    per_agent = args.events // args.agents
    total = per_agent * args.agents
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))

    postgres = Postgres()
    postgres.init()
    tokens = issue_tokens(postgres.url, args.agents)
    paths, _ = write_journals(work / "journals", args.agents, per_agent)
    redis = Redis()
    redis.start()
    worker = Worker(postgres.url, redis.url, work / "worker.log", 2, CELERY_VISIBILITY_TIMEOUT="10")
    worker.supervise()
    shipping = Shipping(paths, tokens, redis.url, batch_size=1000, result_timeout=10.0)
    print(f"seed {seed}; {total:,} events in {args.agents} journals; logs in {work}")
    started = time.perf_counter()
    shipping.start()
    for index, share in enumerate(sorted(rng.uniform(0.05, 0.45) for _ in range(5))):
        shipping.wait_until(int(share * total))
        time.sleep(rng.uniform(0.0, 0.5))
        children = worker.children()
        if index % 2 == 0 and children:
            os.kill(rng.choice(children), signal.SIGKILL)
            what = "a pool child"
        else:
            worker.kill()  # the supervisor starts a new one
            what = "the worker and its pool"
        print(f"  kill -9 of {what} at {shipping.shipped():,} shipped")
    shipping.wait_until(int(0.55 * total))
    redis.stop()
    print(f"  Redis killed at {shipping.shipped():,} shipped; down {args.outage:.0f} s")
    time.sleep(args.outage)
    redis.start()
    shipping.wait_until(int(0.75 * total))
    postgres.stop()
    print(f"  PostgreSQL stopped at {shipping.shipped():,} shipped; down {args.outage:.0f} s")
    time.sleep(args.outage)
    postgres.start()
    shipping.join()
    elapsed = time.perf_counter() - started
    idle = wait_broker_idle(redis.url, timeout=60)
    worker.stop()
    redis.stop()

    from tests.e2e.test_ingest_faults import stored_rows
    from tests.independent_chain import read_journal, verify_chain

    streams = stored_rows(postgres.url.replace("postgres://", "postgresql://"))
    lost = duplicated = changed = broken = 0
    for path in paths:
        journal = read_journal(path)
        stored = streams.get(journal[0]["stream"], [])
        seqs = [event["seq"] for event in stored]
        duplicated += len(seqs) - len(set(seqs))
        lost += len({e["seq"] for e in journal} - set(seqs))
        changed += sum(1 for a, b in zip(stored, journal, strict=False) if a != b)
        broken += len(verify_chain(stored))
    postgres.stop()
    print(
        f"done in {elapsed:.0f} s (outages included), broker drained: {idle}, "
        f"shipper resends: {shipping.errors}, worker restarts: {worker.restarts}"
    )
    print(
        f"stored {sum(len(s) for s in streams.values()):,} of {total:,}: lost {lost}, "
        f"duplicated {duplicated}, differing from the journal {changed}, chain problems {broken}"
    )


if __name__ == "__main__":
    main()
