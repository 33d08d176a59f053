"""Audit record throughput and per-call latency: agents_sdk's journal vs the reference.

    .venv/bin/python -m benchmarks.audit_record [--events 200000] [--always-events 3000]

Measures, in one run on this machine: agents_sdk `JournalWriter.append` (hash
chain, RFC 8785) with fsync="batch", "always" (single caller, and 4 threads
sharing group commits) and "never"; and the reference `kailash-kaizen`
`AuditTrailManager.record` + `FileAuditStorage` (no chain, no fsync), installed in
benchmarks/.ref-venv by benchmarks/reference.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from agents_sdk.audit.journal import JournalWriter
from agents_sdk.shipping.shipper import Shipper
from agents_sdk.shipping.transport import Answered, Batch, Pending, Transport, Verdict
from benchmarks.reference import REFERENCE_PACKAGE, REFERENCE_VERSION, run_reference

DETAILS = {"tool": "search_tickets", "query": "refund status", "hits": 3, "ok": True}

REFERENCE_SNIPPET = r"""
import asyncio, json, logging, sys, tempfile, time, os
from kaizen.core.autonomy.observability.audit import AuditTrailManager, FileAuditStorage
logging.disable(logging.CRITICAL)
n = int(sys.argv[1])
details = json.loads(sys.argv[2])
path = os.path.join(tempfile.mkdtemp(), "audit.jsonl")
manager = AuditTrailManager(storage=FileAuditStorage(path))

async def main():
    started = time.perf_counter()
    for i in range(n):
        await manager.record(agent_id="agent-1", action="tool_execute", details=details,
                             result="success", user_id="alice")
    throughput = n / (time.perf_counter() - started)
    samples = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        await manager.record(agent_id="agent-1", action="tool_execute", details=details,
                             result="success", user_id="alice")
        samples.append(time.perf_counter_ns() - t0)
    return throughput, samples

throughput, samples = asyncio.run(main())
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000
print(json.dumps({"events_per_s": throughput, "p50_us": pick(0.5), "p95_us": pick(0.95),
                  "p99_us": pick(0.99), "events": n}))
"""


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    samples_ns.sort()

    def pick(q: float) -> float:
        return samples_ns[min(len(samples_ns) - 1, int(q * len(samples_ns)))] / 1000

    return {"p50_us": pick(0.5), "p95_us": pick(0.95), "p99_us": pick(0.99)}


def measure_sdk(fsync: str, events: int, directory: Path) -> dict[str, float]:
    path = directory / f"{fsync}.jsonl"
    with JournalWriter(path, "agent-1", fsync=fsync) as journal:  # type: ignore[arg-type]
        append = journal.append
        for _ in range(min(events, 2000)):  # warm up
            append("tool_execute", "success", details=DETAILS, user_id="alice")
        started = time.perf_counter()
        for _ in range(events):
            append("tool_execute", "success", details=DETAILS, user_id="alice")
        throughput = events / (time.perf_counter() - started)
        samples = [0] * events
        clock = time.perf_counter_ns
        for i in range(events):
            t0 = clock()
            append("tool_execute", "success", details=DETAILS, user_id="alice")
            samples[i] = clock() - t0
        assert journal.flush(timeout=30)
    return {"events_per_s": throughput, **percentiles(samples), "events": events}


class _SignedHeadsCounter(Transport):
    """Answers at once; counts the batches and their agent-signed heads (nothing kept)."""

    def __init__(self) -> None:
        self.batches = self.signed = 0

    def send(self, events: list[dict[str, Any]]) -> Verdict:
        return Verdict.accepted_all(len(events))

    def submit(self, batch: Batch) -> Pending:
        self.batches += 1
        self.signed += batch.head is not None
        return Answered(Verdict.accepted_all(len(batch)))


def measure_sdk_shipping(events: int, directory: Path, sign: bool = True) -> dict[str, float]:
    """fsync="batch" while a shipper reads the journal and (`sign`) signs each batch's head
    (the agent key's one cost: one Ed25519 signature per batch, off the recording thread).
    `sign=False` is the same shipper without a key: what signing itself adds is the gap."""
    path = directory / f"shipped-{'signed' if sign else 'unsigned'}.jsonl"
    transport = _SignedHeadsCounter()
    with JournalWriter(path, "agent-1", fsync="batch", head_key=sign) as journal:
        assert (journal.head_signer is not None) == sign
        shipper = Shipper(path, transport, journal=journal, batch_size=500, max_wait=0.05)
        journal.add_listener(shipper.wakeup)
        shipper.start()
        append = journal.append
        for _ in range(min(events, 2000)):  # warm up
            append("tool_execute", "success", details=DETAILS, user_id="alice")
        started = time.perf_counter()
        for _ in range(events):
            append("tool_execute", "success", details=DETAILS, user_id="alice")
        throughput = events / (time.perf_counter() - started)
        samples = [0] * events
        clock = time.perf_counter_ns
        for i in range(events):
            t0 = clock()
            append("tool_execute", "success", details=DETAILS, user_id="alice")
            samples[i] = clock() - t0
        assert journal.flush(timeout=30)
        shipper.stop(timeout=60)
    assert transport.batches and transport.signed == (transport.batches if sign else 0)
    return {
        "events_per_s": throughput,
        **percentiles(samples),
        "events": events,
        "signed_batches": transport.signed,
    }


def measure_sdk_always_threads(events: int, threads: int, directory: Path) -> dict[str, float]:
    """fsync="always" with concurrent callers: they share fsyncs (group commit)."""
    path = directory / "always-threads.jsonl"
    samples: list[int] = []
    lock = threading.Lock()
    per_thread = events // threads
    with JournalWriter(path, "agent-1", fsync="always") as journal:

        def work() -> None:
            local = []
            for _ in range(per_thread):
                t0 = time.perf_counter_ns()
                journal.append("tool_execute", "success", details=DETAILS, user_id="alice")
                local.append(time.perf_counter_ns() - t0)
            with lock:
                samples.extend(local)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        throughput = per_thread * threads / (time.perf_counter() - started)
    return {"events_per_s": throughput, **percentiles(samples), "events": per_thread * threads}


def row(name: str, figures: dict[str, float]) -> str:
    return (
        f"{name:<44} {figures['events_per_s']:>12,.0f}/s  p50 {figures['p50_us']:>8.1f} µs"
        f"  p95 {figures['p95_us']:>8.1f} µs  p99 {figures['p99_us']:>8.1f} µs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per batch/never run")
    parser.add_argument("--always-events", type=int, default=3_000, help="events per always run")
    parser.add_argument("--reference-events", type=int, default=5_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        results["sdk batch"] = measure_sdk("batch", args.events, directory)
        results["sdk batch, shipper without a key"] = measure_sdk_shipping(
            args.events, directory, sign=False
        )
        results["sdk batch, shipper signing heads"] = measure_sdk_shipping(args.events, directory)
        results["sdk never"] = measure_sdk("never", args.events, directory)
        results["sdk always"] = measure_sdk("always", args.always_events, directory)
        results["sdk always, 4 threads"] = measure_sdk_always_threads(
            args.always_events * 2, 4, directory
        )
    print(f"reference: {REFERENCE_PACKAGE}=={REFERENCE_VERSION} ...", file=sys.stderr)
    results["reference AuditTrailManager.record"] = run_reference(
        REFERENCE_SNIPPET, str(args.reference_events), json.dumps(DETAILS)
    )

    print("audit record (one process; hash chain + RFC 8785 for the SDK, none for the reference)")
    for name, figures in results.items():
        print(row(name, figures))
    reference = results["reference AuditTrailManager.record"]
    batch = results["sdk batch"]
    always = results["sdk always"]
    shipped = results["sdk batch, shipper signing heads"]
    unsigned = results["sdk batch, shipper without a key"]
    print()
    print(
        f"batch vs reference: {batch['events_per_s'] / reference['events_per_s']:.0f}x throughput,"
        f" p99 {batch['p99_us']:.1f} µs vs {reference['p99_us']:.1f} µs"
    )
    print(
        f"targets: batch >= 100,000/s: {batch['events_per_s']:,.0f}"
        f" ({'met' if batch['events_per_s'] >= 100_000 else 'NOT met'});"
        f" batch p99 <= 50 µs: {batch['p99_us']:.1f}"
        f" ({'met' if batch['p99_us'] <= 50 else 'NOT met'});"
        f" with head signing p99 <= 50 µs: {shipped['p99_us']:.1f}"
        f" ({'met' if shipped['p99_us'] <= 50 else 'NOT met'},"
        f" {shipped['signed_batches']:,} signed batches; the same shipper without a key:"
        f" p99 {unsigned['p99_us']:.1f} µs);"
        f" always p99 <= 3 ms: {always['p99_us'] / 1000:.2f} ms"
        f" ({'met' if always['p99_us'] <= 3000 else 'NOT met'})"
    )
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
