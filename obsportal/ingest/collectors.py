"""Ingestion's state read at scrape time: obsportal_streams{status}."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from obsportal.ingest.models import Stream

log = logging.getLogger(__name__)


class StreamsCollector(Collector):
    """obsportal_streams{status}: how many streams are ok, forked, broken."""

    def collect(self) -> Iterator[Metric]:
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
