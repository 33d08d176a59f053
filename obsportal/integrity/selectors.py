"""Reading streams, their verification history and checkpoints."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from obsportal.ingest.models import Stream
from obsportal.integrity.models import Checkpoint, StreamVerification, VerificationRun


def streams_with_last_verification() -> QuerySet[Stream]:
    latest = StreamVerification.objects.filter(stream_id=OuterRef("id")).order_by("-id")
    return Stream.objects.annotate(
        last_verification_status=Subquery(latest.values("status")[:1]),
        last_verification_run=Subquery(latest.values("run_id")[:1]),
        last_verified_at=Subquery(latest.values("run__finished_at")[:1]),
        last_verification_problems=Subquery(latest.values("problems")[:1]),
    ).order_by("id")


def stream_verifications(stream_id: str) -> QuerySet[StreamVerification]:
    return (
        StreamVerification.objects.filter(stream_id=stream_id).select_related("run").order_by("-id")
    )


def latest_run() -> VerificationRun | None:
    return VerificationRun.objects.exclude(status=VerificationRun.Status.RUNNING).first()


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-id").first()


def checkpoints() -> QuerySet[Checkpoint]:
    return Checkpoint.objects.order_by("-id")


def vanished_streams(run: VerificationRun) -> QuerySet[StreamVerification]:
    return run.streams.filter(status=StreamVerification.Status.MISSING).order_by("stream_id")
