"""Retention at scrape time: events removed (from the signed prune anchors, so the total
holds across restarts and whichever process ran the job, the command line's included) and
events past their policy (the retention-compliance panel: 0 unless held or stuck)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Counting events past their policy reads the events table (no index answers it): at most
# once a minute a process; the figure moves by days, a scrape every 15 s.
PAST_POLICY_EVERY_SECONDS = 60.0


class RetentionCollector(Collector):
    """obsportal_retention_removed_total{policy} and obsportal_retention_events_past_policy
    {policy} (absent while no policy is active)."""

    def __init__(self) -> None:
        self._past: tuple[float, dict[str, int]] | None = None

    def collect(self) -> Iterator[Metric]:
        from obsportal.retention.selectors import removed_by_policy

        try:
            removed = removed_by_policy()
            past = self._past_policy()
        except DatabaseError:
            log.warning("retention collector: the database did not answer", exc_info=True)
            return
        family = CounterMetricFamily(
            "obsportal_retention_removed", "Events removed by retention, by policy",
            labels=["policy"],
        )  # fmt: skip
        for policy, count in sorted(removed.items()):
            family.add_metric([policy], count)
        yield family
        gauge = GaugeMetricFamily(
            "obsportal_retention_events_past_policy",
            "Events stored past the period of the policy deciding them, not under a legal hold",
            labels=["policy"],
        )
        for policy, count in past.items():
            gauge.add_metric([policy], count)
        yield gauge

    def _past_policy(self) -> dict[str, int]:
        from obsportal.retention.overdue import events_past_policy
        from obsportal.retention.selectors import Rules

        now = time.monotonic()
        if self._past is None or now - self._past[0] >= PAST_POLICY_EVERY_SECONDS:
            found = events_past_policy(Rules.now(timezone.now()))
            self._past = (now, {entry.policy: entry.past for entry in found})
        return self._past[1]


def register() -> None:
    from obsportal.telemetry.collectors import register_scrape_collector

    register_scrape_collector(RetentionCollector())
