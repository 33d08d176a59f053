"""CPU per event by process during `ingest_e2e.py`'s end-to-end phase.

    .venv/bin/python benchmarks/cpu_by_process.py [ingest_e2e.py arguments]

Runs the benchmark, samples /proc/<pid>/stat of every process every 0.25 s, and
charges each process's CPU between the "shipping" line (the worker is up) and the end
of the end-to-end phase (its duration is printed by the benchmark) to a class:
PostgreSQL backends, the worker main process, worker pool processes, the shipping
benchmark process, Redis. Linux only.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")
E2E = Path(__file__).with_name("ingest_e2e.py")


def _classify(pid: int) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        parent_cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    if cmdline.startswith("postgres: ") and "obsportal_bench" in cmdline:
        return "PostgreSQL backends"
    if cmdline.startswith("postgres: "):
        return "PostgreSQL background processes"
    if "redis-server" in cmdline:
        return "Redis"
    if "celery" in cmdline:
        # A pool process is a fork of the worker: its parent runs celery too.
        return "worker pool processes" if b"celery" in parent_cmdline else "worker main process"
    if "ingest_e2e" in cmdline:
        return "shippers (benchmark process)"
    return None


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / HZ


def main() -> None:
    samples: dict[int, tuple[str, list[tuple[float, float]]] | None] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            now = time.time()
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                pid = int(entry)
                if pid in samples and samples[pid] is None:
                    continue
                cpu = _cpu_seconds(pid)
                if cpu is None:
                    continue
                if pid not in samples:
                    kind = _classify(pid)
                    samples[pid] = None if kind is None else (kind, [])
                if samples[pid] is not None:
                    samples[pid][1].append((now, cpu))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        [sys.executable, "-u", str(E2E), *sys.argv[1:]], stdout=subprocess.PIPE, text=True
    ) as bench:
        for line in bench.stdout:
            print(line, end="", flush=True)
            lines.append((time.time(), line))
    stop.set()
    sampler.join()
    if bench.returncode:
        sys.exit(bench.returncode)

    # From the moment shipping starts (the worker is up by then: its start-up is not ingest).
    start = next(t for t, line in lines if line.startswith("shipping "))
    summary = next(line for _, line in lines if line.startswith("end-to-end:"))
    seconds = float(re.search(r" in ([0-9.]+) s", summary).group(1))
    events = int(re.search(r"end-to-end: ([0-9,]+)", summary).group(1).replace(",", ""))
    end = start + seconds + 0.5
    by_kind: collections.Counter[str] = collections.Counter()
    for entry in samples.values():
        if entry is None:
            continue
        kind, points = entry
        inside = [cpu for t, cpu in points if start <= t <= end]
        before = [cpu for t, cpu in points if t < start]
        if inside:
            by_kind[kind] += inside[-1] - (before[-1] if before else 0.0)
    print(f"CPU per event in the end-to-end phase ({events:,} events, {seconds:.1f} s):")
    for kind, cpu in by_kind.most_common():
        print(f"  {kind:34s} {cpu:7.2f} s  {cpu / events * 1e6:6.1f} µs/event")
    print(f"  {'total':34s} {sum(by_kind.values()):7.2f} s  "
          f"{sum(by_kind.values()) / events * 1e6:6.1f} µs/event")  # fmt: skip


if __name__ == "__main__":
    main()
