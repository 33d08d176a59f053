"""State read at scrape time: streams by status, verification results, the latest
checkpoint's age, queue depth.

Verification runs and the breaks they found are counted from their stored results
(the integrity app's tables), not in the process that ran them: the totals then hold
across worker restarts and whichever process ran the job.

These belong to one process only (the portal's /metrics), never to the per-process
multiprocess files, so several portal processes never add them up twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# The integrity app's checkpoint model and the names its time field may have.
CHECKPOINT_MODEL = ("integrity", "Checkpoint")
CHECKPOINT_TIME_FIELDS = ("issued_at", "created_at", "timestamp", "ts")
CHECKPOINT_TASK = "obsportal.integrity.tasks.sign_checkpoint"
# A finished run's outcome is its status; stream findings that count as a chain break.
VERIFICATION_OUTCOMES = ("verified", "problems", "failed")
BREAK_STATUSES = ("broken", "missing")


class StreamsCollector(Collector):
    """obsportal_streams{status}: how many streams are ok, forked, broken."""

    def collect(self) -> Iterator[Metric]:
        from obsportal.ingest.models import Stream

        family = GaugeMetricFamily(
            "obsportal_streams", "Streams by integrity status", labels=["status"]
        )
        try:
            rows = Stream.objects.order_by().values("status").annotate(n=Count("id"))
            counts = {row["status"]: row["n"] for row in rows}
        except DatabaseError:
            log.warning("streams collector: the database did not answer", exc_info=True)
            return
        for status in Stream.Status.values:
            family.add_metric([status], counts.pop(status, 0))
        for status, n in counts.items():  # a status this code does not know yet
            family.add_metric([status], n)
        yield family


class CheckpointAgeCollector(Collector):
    """obsportal_checkpoint_age_seconds; absent while no checkpoint model or checkpoint exists.

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


class VerificationCollector(Collector):
    """obsportal_verification_runs_total{outcome} and obsportal_chain_breaks_total.

    A chain break is a stream that a finished run found broken (a link or hash that
    does not verify) or missing (named by a checkpoint, gone from the database);
    counted once per run, so a break that stays keeps adding at every run.
    """

    def collect(self) -> Iterator[Metric]:
        try:
            run_model = apps.get_model("integrity", "VerificationRun")
            stream_model = apps.get_model("integrity", "StreamVerification")
        except LookupError:
            return
        try:
            by_status = dict(
                run_model.objects.order_by()
                .values_list("status")
                .annotate(n=Count("id"))
                .values_list("status", "n")
            )
            breaks = (
                stream_model.objects.filter(status__in=BREAK_STATUSES)
                .exclude(run__status="running")
                .count()
            )
        except DatabaseError:
            log.warning("verification collector: the database did not answer", exc_info=True)
            return
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


def latest_checkpoint_time() -> datetime | None:
    try:
        model = apps.get_model(*CHECKPOINT_MODEL)
    except LookupError:
        return None
    names = {f.name for f in model._meta.get_fields()}
    field = next((name for name in CHECKPOINT_TIME_FIELDS if name in names), None)
    if field is None:
        log.warning("checkpoint collector: %s has none of %s", model, CHECKPOINT_TIME_FIELDS)
        return None
    try:
        return model.objects.order_by(f"-{field}").values_list(field, flat=True).first()
    except DatabaseError:
        log.warning("checkpoint collector: the database did not answer", exc_info=True)
        return None


class QueueDepthCollector(Collector):
    """obsportal_ingest_queue_depth{queue}: messages waiting in each Celery queue on Redis."""

    def __init__(self, broker_url: str, queues: tuple[str, ...]):
        self.broker_url = broker_url
        self.queues = queues
        self._client = None

    def collect(self) -> Iterator[Metric]:
        import redis

        if self._client is None:
            self._client = redis.Redis.from_url(
                self.broker_url, socket_timeout=1, socket_connect_timeout=1
            )
        family = GaugeMetricFamily(
            "obsportal_ingest_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for queue in self.queues:
                    pipe.llen(queue)
                depths = pipe.execute()
        except redis.RedisError:
            log.warning("queue depth collector: the broker did not answer", exc_info=True)
            return
        for queue, depth in zip(self.queues, depths, strict=True):
            family.add_metric([queue], depth)
        yield family


def scrape_time_collectors() -> list[Collector]:
    collectors: list[Collector] = [
        StreamsCollector(),
        CheckpointAgeCollector(),
        VerificationCollector(),
    ]
    broker = settings.CELERY_BROKER_URL
    if broker.startswith(("redis://", "rediss://", "unix://")):
        queues = tuple(
            dict.fromkeys(
                [settings.CELERY_TASK_DEFAULT_QUEUE]
                + [route["queue"] for route in settings.CELERY_TASK_ROUTES.values()]
            )
        )
        collectors.append(QueueDepthCollector(broker, queues))
    return collectors
