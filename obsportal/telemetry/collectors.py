"""Collectors read at scrape time, and the registry through which apps add theirs.

What the database or the broker already knows (streams by status, verification
results, the latest checkpoint's age, queue depth) is read when /metrics is
scraped, not counted in the process that changed it: the figures then hold across
restarts and whichever process did the work. Each app registers its own
collectors from its `AppConfig.ready()` with `register_scrape_collector`, so this
module knows no app's models; the broker's queue depth is telemetry's own.

These belong to one process only (the portal's /metrics), never to the per-process
multiprocess files, so several portal processes never add them up twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Registered collectors by name: an app registering again (ready() run twice) replaces its own.
_registered: dict[str, Collector] = {}


def register_scrape_collector(collector: Collector, name: str | None = None) -> None:
    """Have /metrics read `collector` at every scrape (call from an app's ready())."""
    _registered[name or type(collector).__qualname__] = collector


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
    collectors: list[Collector] = list(_registered.values())
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
