"""Local query over a 100,000-event journal: agents_sdk's streaming query vs the reference.

    .venv/bin/python -m benchmarks.query [--events 100000]

The SDK journal is written with the SDK (hash chain, 4 MiB rotation, so the
query walks several files). The reference file is the same number of entries
in the reference's own JSONL format (written line by line as its
`FileAuditStorage.append` writes them, without going through its slow append),
then queried with `AuditTrailManager.query_by_agent` / `query_by_user`.
Each figure is the best of 3 runs (the file is in the page cache for both).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from agents_sdk.audit.journal import JournalWriter
from agents_sdk.audit.query import EventFilter, query, query_lines
from benchmarks.reference import REFERENCE_PACKAGE, REFERENCE_VERSION, run_reference

REFERENCE_SNIPPET = r"""
import asyncio, json, logging, os, sys, tempfile, time
from dataclasses import asdict
from datetime import datetime, timezone
from kaizen.core.autonomy.observability.audit import AuditTrailManager, FileAuditStorage
from kaizen.core.autonomy.observability.types import AuditEntry
logging.disable(logging.CRITICAL)
n = int(sys.argv[1])
path = os.path.join(tempfile.mkdtemp(), "audit.jsonl")
with open(path, "w") as f:
    for i in range(n):
        entry = AuditEntry(timestamp=datetime.now(timezone.utc), agent_id="agent-1",
                           action=("tool_execute", "llm_call", "data_access")[i % 3],
                           details={"i": i, "tool": "search", "q": "refund status"},
                           result="failure" if i % 7 == 0 else "success",
                           user_id=f"user-{i % 50}")
        d = asdict(entry); d["timestamp"] = entry.timestamp.isoformat()
        f.write(json.dumps(d) + "\n")
manager = AuditTrailManager(storage=FileAuditStorage(path))

def best(call):
    times = []
    for _ in range(3):
        t = time.perf_counter(); found = asyncio.run(call()); times.append(time.perf_counter() - t)
    return min(times), len(found)

agent_s, agent_n = best(lambda: manager.query_by_agent("agent-1"))
none_s, none_n = best(lambda: manager.query_by_agent("agent-2"))
user_s, user_n = best(lambda: manager.query_by_user("user-7"))
print(json.dumps({"agent_s": agent_s, "agent_n": agent_n, "none_s": none_s, "none_n": none_n,
                  "user_s": user_s, "user_n": user_n, "bytes": os.path.getsize(path)}))
"""


def best_of(runs: int, call) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = call()
        times.append(time.perf_counter() - started)
    return min(times), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        with JournalWriter(path, "agent-1", rotate_bytes=4 << 20) as journal:
            for i in range(n):
                journal.append(
                    ("tool_execute", "llm_call", "data_access")[i % 3],
                    "failure" if i % 7 == 0 else "success",
                    details={"i": i, "tool": "search", "q": "refund status"},
                    user_id=f"user-{i % 50}",
                )
        size = sum(p.stat().st_size for p in Path(tmp).glob("audit.jsonl*"))
        files = len([p for p in Path(tmp).glob("audit.jsonl*") if p.name[-1].isdigit()]) + 1

        def count(where, lines=False):
            source = query_lines if lines else query
            return lambda: sum(1 for _ in source(path, where))

        by_agent = EventFilter.build(agent_id="agent-1")
        sdk = {
            "agent (events as dicts)": best_of(3, count(by_agent)),
            "agent (raw JSON lines, CLI)": best_of(3, count(by_agent, lines=True)),
            "agent, no match": best_of(3, count(EventFilter.build(agent_id="agent-2"))),
            "user (2% match)": best_of(3, count(EventFilter.build(user_id="user-7"))),
        }
    print(f"reference: {REFERENCE_PACKAGE}=={REFERENCE_VERSION} ...", file=sys.stderr)
    ref = run_reference(REFERENCE_SNIPPET, str(n))

    print(f"local query over {n:,} events")
    print(f"  agents_sdk journal: {size / 1e6:.1f} MB in {files} files (rotated at 4 MiB)")
    print(f"  reference file:     {ref['bytes'] / 1e6:.1f} MB in 1 file")
    for name, (seconds, found) in sdk.items():
        print(f"  sdk   by {name:<30} {seconds:7.3f} s  ({found:,} events)")
    print(
        f"  ref   by agent (AuditEntry objects)     {ref['agent_s']:7.3f} s  ({ref['agent_n']:,})"
    )
    print(f"  ref   by agent, no match                {ref['none_s']:7.3f} s  ({ref['none_n']:,})")
    print(f"  ref   by user (2% match)                {ref['user_s']:7.3f} s  ({ref['user_n']:,})")
    agent_s = sdk["agent (events as dicts)"][0]
    print()
    print(
        f"by agent: {agent_s:.3f} s vs reference {ref['agent_s']:.3f} s"
        f" ({ref['agent_s'] / agent_s:.0f}x faster); target <= 0.5 s:"
        f" {'met' if agent_s <= 0.5 else 'NOT met'}"
    )
    print(
        f"by user:  {sdk['user (2% match)'][0]:.3f} s vs reference {ref['user_s']:.3f} s"
        f" ({ref['user_s'] / sdk['user (2% match)'][0]:.0f}x faster)"
    )
    print(json.dumps({"sdk": sdk, "reference": ref}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
