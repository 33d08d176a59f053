"""Dead letters: a refused batch is kept with its reason and a bounded, redacted sample."""

from __future__ import annotations

from typing import Any

from obsportal.ingest.models import RejectedBatch
from obsportal.ingest.samples import dead_letter_sample, redacted
from obsportal.ingest.verdicts import Reason


def record_rejection(
    batch: Any, code: Reason | str, reason: str, agent_id: str = "", raw: bytes | None = None
) -> None:
    """Keep a dead letter of a refused batch: its reason and a few KiB of it, no token."""
    events = batch.get("events") if isinstance(batch, dict) else None
    RejectedBatch.objects.create(
        agent_id=agent_id,
        reason_code=str(code),
        reason=redacted(reason),
        event_count=len(events) if isinstance(events, list) else 0,
        sample=dead_letter_sample(batch, raw),
    )
