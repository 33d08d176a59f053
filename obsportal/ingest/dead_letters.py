"""Dead letters: a refused batch is kept with its reason and its first events."""

from __future__ import annotations

from typing import Any

from obsportal.ingest.models import RejectedBatch
from obsportal.ingest.verdicts import Reason

# The first events only: enough to investigate, bounded in size.
REJECTED_SAMPLE = 3


def record_rejection(batch: Any, code: Reason | str, reason: str, agent_id: str = "") -> None:
    """Keep a dead letter of a refused batch: its reason and its first events."""
    events = batch.get("events") if isinstance(batch, dict) else None
    sample = events[:REJECTED_SAMPLE] if isinstance(events, list) else [repr(batch)[:2000]]
    RejectedBatch.objects.create(
        agent_id=agent_id,
        reason_code=str(code),
        reason=reason,
        event_count=len(events) if isinstance(events, list) else 0,
        sample=sample,
    )
