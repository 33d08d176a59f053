"""Chain coverage of a period: per stream, the seqs the period holds, gaps, the signed
checkpoint covering its end, the latest verification, pruned and erased ranges.

This is the auditor's "gaps in sequence or timing" test (AT-C 205.36) done by the report
itself: a stream's events in the period are seqs first..last; gaps = (last - first + 1)
- events - pruned seqs inside the range, and must be 0.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min

from obsportal.accounts.permissions import visible_events
from obsportal.compliance.reports.sources import Period, iso
from obsportal.events.selectors import events
from obsportal.integrity.anchors import pruned_ranges
from obsportal.integrity.models import Checkpoint, CheckpointHead, StreamVerification


def _pruned_inside(ranges: list[dict[str, Any]], first: int, last: int) -> int:
    inside = 0
    for r in ranges:
        lo, hi = max(first, int(r["from"])), min(last, int(r["to"]))
        inside += max(0, hi - lo + 1)
    return inside


def chain_coverage(period: Period, reader: Any) -> dict[str, Any]:
    trail = settings.OBSPORTAL_TRAIL_AGENT_ID
    per_stream = (
        visible_events(events(), reader, trail)
        .filter(ts__gte=period.since, ts__lt=period.until)
        .values("stream_id", "agent_id")
        .annotate(first=Min("seq"), last=Max("seq"), events=Count("id"))
        .order_by("stream_id")
    )
    streams, notes, problems = [], {}, 0
    for row in per_stream:
        stream_id, first, last = row["stream_id"], row["first"], row["last"]
        pruned = pruned_ranges(stream_id)
        gaps = (last - first + 1) - row["events"] - _pruned_inside(pruned, first, last)
        head = (
            CheckpointHead.objects.filter(stream_id=stream_id, seq__gte=last)
            .select_related("checkpoint")
            .order_by("checkpoint__number")
            .first()
        )
        latest = (
            StreamVerification.objects.filter(stream_id=stream_id)
            .select_related("run")
            .order_by("-id")
            .first()
        )
        checkpoint = None
        if head is not None:
            ckpt = head.checkpoint
            notes[ckpt.number] = ckpt.note
            checkpoint = {
                "number": ckpt.number,
                "issued_at": iso(ckpt.issued_at),
                "head_seq": head.seq,
                "head_hash": head.hash,
                "root_hash": ckpt.root_hash,
                "key_id": ckpt.key_id,
            }
        verification = None
        if latest is not None:
            verification = {
                "run": latest.run_id,
                "finished_at": iso(latest.run.finished_at),
                "status": latest.status,
                "verified_from": latest.verified_from,
                "verified_to": latest.verified_to,
                "covers_period": latest.verified_to is not None and latest.verified_to >= last,
                "gaps": latest.gaps,
                "forks": len(latest.forks),
                "erased": len(latest.erased),
            }
        ok = (
            gaps == 0
            and checkpoint is not None
            and verification is not None
            and verification["status"] == StreamVerification.Status.VERIFIED
            and verification["covers_period"]
        )
        problems += not ok
        streams.append(
            {
                "stream": stream_id,
                "agent_id": row["agent_id"],
                "first_seq": first,
                "last_seq": last,
                "events": row["events"],
                "gaps": gaps,
                "pruned": pruned,
                "checkpoint": checkpoint,
                "verification": verification,
                "ok": ok,
            }
        )
    latest_ckpt = Checkpoint.objects.order_by("-number").first()
    return {
        "rule": "per stream: events with ts in [since, until); gaps = last - first + 1 - events "
        "- pruned seqs inside; covered by the first signed checkpoint whose head seq >= last; "
        "ok = 0 gaps, covered, latest verification 'verified' through last",
        "streams": streams,
        "streams_not_ok": problems,
        "checkpoint_notes": {str(n): note for n, note in sorted(notes.items())},
        "latest_checkpoint": latest_ckpt.number if latest_ckpt else None,
    }
