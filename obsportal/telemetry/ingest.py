"""The one call the ingest edges (Celery task, HTTP view) make around `admit_batch`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from obsportal.telemetry.metrics import record_admission
from obsportal.telemetry.tracing import ingest_span


def observed_admission(admit: Callable[[Any], Any], batch: Any) -> Any:
    """Run `admit(batch)` inside the ingest span and record its verdict's metrics."""
    events = batch.get("events") if isinstance(batch, dict) else None
    with ingest_span(events) as span:
        started = time.perf_counter()
        verdict = admit(batch)
        record_admission(verdict, events, time.perf_counter() - started)
        span.set_attributes(
            {
                "obsportal.ingest.status": verdict.status,
                "obsportal.ingest.admitted": verdict.admitted,
                "obsportal.ingest.duplicates": verdict.duplicates,
                "obsportal.ingest.forks": verdict.forks,
                "obsportal.ingest.reason_code": verdict.reason_code,
            }
        )
    return verdict
