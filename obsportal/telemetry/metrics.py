"""The pipeline's Prometheus metrics and the helpers that record them.

Everything here works in prometheus_client's multiprocess mode (gunicorn and
Celery prefork workers set PROMETHEUS_MULTIPROC_DIR): counters and histograms
only; what the database or the broker already knows (streams by status,
verification runs and chain breaks, the latest checkpoint's age, queue depth) is
read at scrape time by `collectors`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus_client opens its per-process files as soon as a metric is defined.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Latency buckets: an ingest batch takes milliseconds; a lag spans seconds to hours.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 86400.0)

INGEST_EVENTS = Counter(
    "obsportal_ingest_events", "Events admitted, by agent and result", ["agent_id", "result"]
)
INGEST_BATCHES = Counter("obsportal_ingest_batches", "Ingest batches, by verdict", ["status"])
INGEST_REJECTED = Counter(
    "obsportal_ingest_rejected",
    "Events refused with their batch, by the service's reason code",
    ["reason"],
)
INGEST_THROTTLED = Counter(
    "obsportal_ingest_throttled",
    "HTTP ingest requests refused by their credential's allowance, by agent and limit",
    ["agent_id", "limit"],
)
INGEST_BATCH_DURATION = Histogram(
    "obsportal_ingest_batch_duration_seconds",
    "Time to admit one batch",
    buckets=BATCH_BUCKETS,
)
INGEST_LAG = Histogram(
    "obsportal_ingest_lag_seconds",
    "From an event's own timestamp to its storage",
    buckets=LAG_BUCKETS,
)
INGEST_DUPLICATES = Counter("obsportal_ingest_duplicates", "Re-delivered events (no-ops)")
INGEST_FORKS = Counter("obsportal_ingest_forks", "Events that forked a stream (incidents)")
TRAIL_APPEND_FAILURES = Counter(
    "obsportal_trail_append_failures",
    "Portal trail events that could not be recorded (each refused what needed it)",
)
TRAIL_COPY_FAILURES = Counter(
    "obsportal_trail_copy_failures",
    "Failed attempts to copy trail journal events into the database (retried; the journal"
    " holds them)",
)


def record_admission(
    verdict: Any, events: Any, duration_seconds: float, now: datetime | None = None
) -> None:
    """Record one batch's verdict (an `AdmitResult`) and the events it admitted."""
    INGEST_BATCHES.labels(verdict.status).inc()
    INGEST_BATCH_DURATION.observe(duration_seconds)
    offered = events if isinstance(events, list) else []
    if verdict.status != "accepted":
        # A batch without an events list still counts: one refusal.
        INGEST_REJECTED.labels(verdict.reason_code or "unknown").inc(max(1, verdict.offered))
        return
    if verdict.duplicates:
        INGEST_DUPLICATES.inc(verdict.duplicates)
    if verdict.forks:
        INGEST_FORKS.inc(verdict.forks)
    # Exact counts from the service, including waiting events a gap-filler released.
    for result, count in verdict.admitted_by_result.items():
        INGEST_EVENTS.labels(verdict.agent_id, result).inc(count)
    admitted = admitted_events(offered, verdict.admitted, verdict.heads)
    stored_at = now or datetime.now(UTC)
    for event in admitted:
        ts = event_time(event)
        if ts is not None:
            INGEST_LAG.observe(max(0.0, (stored_at - ts).total_seconds()))


def admitted_events(
    events: list[dict[str, Any]], admitted: int, heads: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The events of a batch that the verdict admitted (for their lag).

    The verdict counts admitted events but does not list them. Admitted events
    are at or below their stream's new head, and re-deliveries are the older
    ones, so the newest `admitted` such events are taken. (Events admitted from
    earlier batches when a gap filled are counted in `admitted` but are not in
    this batch; they are not counted here.)
    """
    if admitted <= 0:
        return []
    if admitted >= len(events):
        return events
    stored = [
        e
        for e in events
        if isinstance(e, dict) and e.get("seq", 1 << 62) <= heads.get(e.get("stream"), -1)
    ]
    stored.sort(key=lambda e: e["seq"], reverse=True)
    return stored[:admitted]


def event_time(event: Mapping[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
