"""Compliance status at scrape time: the sections with exceptions of each framework's latest
finished report run (the dashboard's status per framework; absent before any run)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class ReportStatusCollector(Collector):
    """obsportal_report_sections_with_exceptions{framework}."""

    def collect(self) -> Iterator[Metric]:
        from obsportal.compliance.reports.selectors import latest_sections_with_exceptions

        try:
            latest = latest_sections_with_exceptions()
        except DatabaseError:
            log.warning("report collector: the database did not answer", exc_info=True)
            return
        family = GaugeMetricFamily(
            "obsportal_report_sections_with_exceptions",
            "Sections with exceptions in the latest finished report run of a framework",
            labels=["framework"],
        )
        for framework, count in sorted(latest.items()):
            family.add_metric([framework], count)
        yield family


def register() -> None:
    from obsportal.telemetry.collectors import register_scrape_collector

    register_scrape_collector(ReportStatusCollector())
