""" "Verify now": an officer's request for a verification run, on the trail before it is queued.

The request row is the job. It is stored and its trail event written in one transaction
(`ingest.signals.verification_requested`, recorded by the trail: a request the trail
cannot hold fails and is not made); the Celery task is queued only once both committed,
and it writes its progress and its run back to the row.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from obsportal.ingest import signals
from obsportal.ingest.models import Stream
from obsportal.integrity.models import VerificationRequest
from obsportal.integrity.verification import estimated_events, verify_streams

# Progress is written to the row at most this often.
PROGRESS_EVERY_S = 0.5


class UnknownStream(LookupError):
    """Verify now was asked for a stream that does not exist (or is outside the scope)."""


def request_verification(user: Any, stream_id: str | None = None) -> VerificationRequest:
    """Store the request and its trail event, then queue the run once both are committed."""
    from obsportal.integrity.tasks import run_verification_request

    if stream_id is not None:
        stream = Stream.objects.filter(pk=stream_id).first()
        if stream is None:
            raise UnknownStream(f"no stream {stream_id}")
        total = stream.head_seq + 1
    else:
        total = estimated_events()
    with transaction.atomic():
        request = VerificationRequest.objects.create(
            requested_by=user, stream_id=stream_id or "", events_total=max(total, 0)
        )
        signals.verification_requested.send(
            sender=VerificationRequest,
            actor=user,
            target=request,
            detail={"stream": stream_id, "events_total": request.events_total},
        )
        transaction.on_commit(lambda: run_verification_request.delay(request.pk))
    return request


def run_request(request_id: int) -> VerificationRequest:
    """Run one requested verification, reporting progress on the row; a redelivered task
    of a finished request does nothing."""
    request = VerificationRequest.objects.get(pk=request_id)
    if request.status in (VerificationRequest.Status.DONE, VerificationRequest.Status.FAILED):
        return request
    request.status, request.started_at = VerificationRequest.Status.RUNNING, timezone.now()
    request.save(update_fields=["status", "started_at"])
    stream_ids = [request.stream_id] if request.stream_id else None
    try:
        run = verify_streams(
            stream_ids=stream_ids, trigger="verify-now", progress=_progress(request)
        )
    except Exception as exc:
        request.status = VerificationRequest.Status.FAILED
        request.error = f"{type(exc).__name__}: {exc}"
        request.finished_at = timezone.now()
        request.save(update_fields=["status", "error", "finished_at"])
        raise
    request.run, request.status = run, VerificationRequest.Status.DONE
    request.events_done, request.finished_at = run.events_checked, timezone.now()
    request.save(update_fields=["run", "status", "events_done", "finished_at"])
    return request


def _progress(request: VerificationRequest):
    state = {"done": 0, "written": time.monotonic()}

    def advance(count: int) -> None:
        state["done"] += count
        now = time.monotonic()
        if now - state["written"] >= PROGRESS_EVERY_S:
            state["written"] = now
            VerificationRequest.objects.filter(pk=request.pk).update(events_done=state["done"])

    return advance


def requests_for(stream_id: str | None) -> Any:
    """Verify-now requests of one stream (and the all-stream ones), newest first."""
    rows = VerificationRequest.objects.select_related("run", "requested_by")
    if stream_id is None:
        return rows
    return rows.filter(stream_id__in=[stream_id, ""])


__all__ = ["UnknownStream", "request_verification", "requests_for", "run_request"]
