"""One pruned range's signed anchor and its trail event: what every prune writes before it
deletes (a chunk by DELETE in runs.py, a whole month by dropping its partition in months.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from obsportal.integrity.anchors import write_prune_anchor
from obsportal.retention.models import RetentionPlan, RetentionRun
from obsportal.retention.services.trail import actor_name, record_trail


def anchor_pruned_range(
    run: RetentionRun,
    plan: RetentionPlan,
    *,
    stream: str,
    first: int,
    last: int,
    last_hash: str,
    count: int,
    policy: str,
    at: datetime,
    **extra: Any,
) -> Any:
    """Sign and store the anchor of seq first..last of `stream` and record it on the trail
    (`extra` adds to the trail event's details, e.g. the dropped partition); the anchor."""
    anchor = write_prune_anchor(
        stream_id=stream,
        first_seq=first,
        last_seq=last,
        last_hash=last_hash,
        count=count,
        policy=policy,
        plan_id=plan.pk,
        run_id=run.pk,
        pruned_at=at,
    )
    record_trail(
        "retention.prune",
        actor=actor_name(run.started_by),
        resource=f"stream:{stream}",
        details={
            "from": first,
            "to": last,
            "hash": last_hash,
            "events": count,
            "policy": policy,
            "plan": plan.pk,
            "run": run.pk,
            "anchor": anchor.note_hash,
            **extra,
        },
    )
    return anchor
