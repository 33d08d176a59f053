"""Memory while the broker is down: RSS growth over 1,000,000 recorded events.

    .venv/bin/python -m benchmarks.memory [--events 1000000] [--reference-events 50000]

The agent records with fsync="batch" and a running shipper whose Celery broker
(a closed local port) refuses every connection, so nothing is ever acknowledged
and the whole journal stays pending. The journal on disk is the outbox: memory
must stay flat. The reference (kailash-kaizen AuditTrailManager + FileAuditStorage,
which has no shipper) is measured over fewer events, since it appends ~2,000/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

from agents_sdk.audit.journal import JournalWriter
from agents_sdk.shipping.shipper import Shipper
from agents_sdk.shipping.transports import CeleryTransport
from benchmarks.reference import REFERENCE_PACKAGE, REFERENCE_VERSION, run_reference

REFERENCE_SNIPPET = r"""
import asyncio, json, logging, os, sys, tempfile
from kaizen.core.autonomy.observability.audit import AuditTrailManager, FileAuditStorage
logging.disable(logging.CRITICAL)
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
n = int(sys.argv[1])
manager = AuditTrailManager(storage=FileAuditStorage(os.path.join(tempfile.mkdtemp(), "a.jsonl")))
async def main():
    for i in range(1000):
        await manager.record(agent_id="agent-1", action="tool_execute",
                             details={"i": i, "tool": "search"}, result="success", user_id="alice")
    before = rss()
    for i in range(n):
        await manager.record(agent_id="agent-1", action="tool_execute",
                             details={"i": i, "tool": "search"}, result="success", user_id="alice")
    return before, rss()
before, after = asyncio.run(main())
print(json.dumps({"events": n, "rss_before": before, "rss_after": after}))
"""


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when this returns: connections are refused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reference-events", type=int, default=50_000)
    args = parser.parse_args()
    broker = f"redis://127.0.0.1:{closed_port()}/0"
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        journal = JournalWriter(path, "agent-1", rotate_bytes=64 << 20)
        shipper = Shipper(
            path,
            CeleryTransport(broker, token="agt_x", result_timeout=2),
            journal=journal,
            max_backoff=1.0,
        )
        journal.add_listener(shipper.wakeup)
        shipper.start()
        for i in range(10_000):  # warm up: imports, the first connection failures
            journal.append("tool_execute", details={"i": i, "tool": "search"}, user_id="alice")
        journal.flush(timeout=10)
        time.sleep(1.0)
        gc.collect()
        before = rss()
        started = time.perf_counter()
        step = max(1, args.events // 10)
        for i in range(args.events):
            journal.append("tool_execute", details={"i": i, "tool": "search"}, user_id="alice")
            if i % step == step - 1:
                samples.append(rss())
        elapsed = time.perf_counter() - started
        journal.flush(timeout=30)
        time.sleep(1.0)
        gc.collect()
        after = rss()
        pending = shipper.pending_events()
        error = shipper.last_error
        shipper.stop(timeout=1)
        journal.close()
        on_disk = sum(p.stat().st_size for p in Path(tmp).glob("audit.jsonl*"))
    print(f"reference: {REFERENCE_PACKAGE}=={REFERENCE_VERSION} ...", file=sys.stderr)
    ref = run_reference(REFERENCE_SNIPPET, str(args.reference_events))
    growth = after - before
    ref_growth = ref["rss_after"] - ref["rss_before"]
    print(f"memory with the broker down ({broker}, every send refused)")
    print(
        f"  sdk: {args.events:,} events recorded in {elapsed:.1f} s"
        f" ({args.events / elapsed:,.0f}/s), {pending:,} pending, {on_disk / 1e6:,.0f} MB on disk"
    )
    print(f"  sdk: shipper's last error: {error}")
    print(
        f"  sdk: RSS {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB: growth {growth / 1e6:+.1f} MB;"
        f" samples every {step:,}: " + ", ".join(f"{s / 1e6:.0f}" for s in samples)
    )
    print(
        f"  reference: {ref['events']:,} events: RSS {ref['rss_before'] / 1e6:.1f} MB ->"
        f" {ref['rss_after'] / 1e6:.1f} MB: growth {ref_growth / 1e6:+.1f} MB (it has no shipper)"
    )
    print(f"target: growth <= 50 MB over 1,000,000: {'met' if growth <= 50e6 else 'NOT met'}")
    print(json.dumps({"sdk_growth": growth, "sdk_events": args.events, "reference": ref}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
