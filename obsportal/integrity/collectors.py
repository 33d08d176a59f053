"""Integrity's state read at scrape time: verification results and the latest checkpoint's age.

Verification runs and the breaks they found are counted from their stored results,
not in the process that ran them: the totals then hold across worker restarts and
whichever process ran the job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, F, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from obsportal.ingest.models import Stream
from obsportal.integrity.models import Checkpoint, StreamVerification, VerificationRun

log = logging.getLogger(__name__)

CHECKPOINT_TASK = "obsportal.integrity.tasks.sign_checkpoint"
# A finished run's outcome is its status; stream findings that count as a chain break.
VERIFICATION_OUTCOMES = ("verified", "problems", "failed")
BREAK_STATUSES = ("broken", "missing")


class CheckpointAgeCollector(Collector):
    """obsportal_checkpoint_age_seconds; absent while no checkpoint exists.

    obsportal_checkpoint_interval_seconds is the signing schedule, so that an alert can
    say "older than two intervals" without repeating the schedule.
    """

    def collect(self) -> Iterator[Metric]:
        issued = latest_checkpoint_time()
        if issued is None:
            return
        family = GaugeMetricFamily(
            "obsportal_checkpoint_age_seconds", "Age of the latest signed checkpoint"
        )
        family.add_metric([], max(0.0, (datetime.now(UTC) - issued).total_seconds()))
        yield family
        interval = checkpoint_interval_seconds()
        if interval:
            yield GaugeMetricFamily(
                "obsportal_checkpoint_interval_seconds",
                "Scheduled interval between signed checkpoints",
                value=interval,
            )


def checkpoint_interval_seconds() -> float | None:
    for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values():
        if entry.get("task") == CHECKPOINT_TASK:
            schedule = entry.get("schedule")
            if isinstance(schedule, int | float):
                return float(schedule)
            seconds = getattr(schedule, "seconds", None)  # celery.schedules.schedule
            return float(seconds) if seconds else None
    return None


def latest_checkpoint_time() -> datetime | None:
    try:
        return Checkpoint.objects.order_by("-issued_at").values_list("issued_at", flat=True).first()
    except DatabaseError:
        log.warning("checkpoint collector: the database did not answer", exc_info=True)
        return None


class VerificationCollector(Collector):
    """obsportal_verification_runs_total{outcome} and obsportal_chain_breaks_total;
    the audit trail's completeness (obsportal_events_stored, obsportal_events_verified:
    the events the latest finished run verified) and obsportal_verification_latest_verified
    (1 when the latest finished run verified every stream, else 0; absent before any run).

    A chain break is a stream that a finished run found broken (a link or hash that
    does not verify) or missing (named by a checkpoint, gone from the database);
    counted once per run, so a break that stays keeps adding at every run.
    """

    def collect(self) -> Iterator[Metric]:
        try:
            by_status = dict(
                VerificationRun.objects.order_by()
                .values_list("status")
                .annotate(n=Count("id"))
                .values_list("status", "n")
            )
            breaks = (
                StreamVerification.objects.filter(status__in=BREAK_STATUSES)
                .exclude(run__status="running")
                .count()
            )
        except DatabaseError:
            log.warning("verification collector: the database did not answer", exc_info=True)
            return
        yield from completeness()
        runs = CounterMetricFamily(
            "obsportal_verification_runs", "Finished verification runs, by outcome",
            labels=["outcome"],
        )  # fmt: skip
        for outcome in VERIFICATION_OUTCOMES:
            runs.add_metric([outcome], by_status.get(outcome, 0))
        yield runs
        yield CounterMetricFamily(
            "obsportal_chain_breaks", "Broken or missing streams found by verification runs",
            value=breaks,
        )  # fmt: skip


def completeness() -> Iterator[Metric]:
    """Events stored (every stream's head: no count over the events table) and verified."""
    try:
        stored = Stream.objects.aggregate(n=Sum(F("head_seq") + 1))["n"] or 0
        latest = (
            VerificationRun.objects.exclude(status="running").order_by("-id").values("id", "status")
        ).first()
        verified = 0
        if latest is not None:
            verified = (
                StreamVerification.objects.filter(run_id=latest["id"], status="verified").aggregate(
                    n=Sum("events_checked")
                )["n"]
                or 0
            )
    except DatabaseError:
        log.warning("completeness collector: the database did not answer", exc_info=True)
        return
    yield GaugeMetricFamily("obsportal_events_stored", "Audit events stored", value=stored)
    yield GaugeMetricFamily(
        "obsportal_events_verified",
        "Audit events the latest finished verification run verified",
        value=verified,
    )
    if latest is not None:
        yield GaugeMetricFamily(
            "obsportal_verification_latest_verified",
            "1 when the latest finished verification run verified every stream, else 0",
            value=1 if latest["status"] == "verified" else 0,
        )
