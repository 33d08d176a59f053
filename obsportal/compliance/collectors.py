"""Subject requests at scrape time: how many are open and how many are past their deadline."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class SubjectRequestCollector(Collector):
    """obsportal_subject_requests_open and obsportal_subject_requests_overdue (the alert)."""

    def collect(self) -> Iterator[Metric]:
        from obsportal.compliance.subjects.deadlines import request_counts

        try:
            counts = request_counts()
        except DatabaseError:
            log.warning("subject requests could not be counted", exc_info=True)
            return
        yield GaugeMetricFamily(
            "obsportal_subject_requests_open",
            "Data-subject requests not yet completed",
            value=counts["open"],
        )
        yield GaugeMetricFamily(
            "obsportal_subject_requests_overdue",
            "Data-subject requests past their legal deadline (GDPR 1 month +2, HIPAA 60 days +30)",
            value=counts["overdue"],
        )


def register() -> None:
    from obsportal.telemetry.collectors import register_scrape_collector

    register_scrape_collector(SubjectRequestCollector())
