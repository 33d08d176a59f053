"""The command line of a real `celery worker` for the portal, shared by the tests that start one."""

from __future__ import annotations

import os
import sys
import time


def worker_argv(concurrency: int, name: str, queues: str = "ingest,default") -> list[str]:
    """`celery -A obsportal worker` on the ingest and default queues, uniquely named."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "obsportal",
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "--loglevel=INFO",
        "-n",
        f"{name}-{os.getpid()}-{time.monotonic_ns()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
