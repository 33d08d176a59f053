"""State read at scrape time: streams by status, the latest checkpoint's age, queue depth.

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
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# The integrity app's checkpoint model and the names its time field may have.
CHECKPOINT_MODEL = ("integrity", "Checkpoint")
CHECKPOINT_TIME_FIELDS = ("issued_at", "created_at", "timestamp", "ts")


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
    """obsportal_checkpoint_age_seconds; absent while no checkpoint model or checkpoint exists."""

    def collect(self) -> Iterator[Metric]:
        issued = latest_checkpoint_time()
        if issued is None:
            return
        family = GaugeMetricFamily(
            "obsportal_checkpoint_age_seconds", "Age of the latest signed checkpoint"
        )
        family.add_metric([], max(0.0, (datetime.now(UTC) - issued).total_seconds()))
        yield family


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
    collectors: list[Collector] = [StreamsCollector(), CheckpointAgeCollector()]
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
