"""The overview's figures, read from what is already kept small: the hourly event counts
by agent and result (ResultCount, kept by admission), the stream heads, the latest
verification run and checkpoint, and the incident and dead-letter tables. Nothing here
counts audit rows, so the page costs the same at five million events as at five hundred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from obsportal.accounts.permissions import access_of
from obsportal.accounts.roles import Capability
from obsportal.ingest.models import IntegrityIncident, RejectedBatch, ResultCount, Stream
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointIncident,
    StreamVerification,
    VerificationRun,
)
from obsportal.queries import counts

# The periods the overview offers, by their query value.
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_PERIOD = "24h"


@dataclass(frozen=True)
class Bucket:
    start: datetime
    total: int
    by_result: dict[str, int]


@dataclass
class Overview:
    since: datetime
    until: datetime
    total: int = 0
    by_result: dict[str, int] = field(default_factory=dict)
    buckets: list[Bucket] = field(default_factory=list)
    bucket_hours: int = 1
    agents_active: int = 0
    by_agent: list[tuple[str, int]] = field(default_factory=list)
    streams: dict[str, int] = field(default_factory=dict)  # Stream.status -> count
    verification: dict[str, int] = field(default_factory=dict)  # latest run's statuses
    streams_not_in_run: int = 0
    latest_run: VerificationRun | None = None
    latest_checkpoint: Checkpoint | None = None
    checkpoint_age: timedelta | None = None
    incidents: int = 0
    checkpoint_incidents: int = 0
    dead_letters: int = 0
    dead_letters_in_period: int = 0

    def rate(self, result: str) -> float:
        return 100.0 * self.by_result.get(result, 0) / self.total if self.total else 0.0

    @property
    def denied_rate(self) -> float:
        return self.rate("denied")

    @property
    def failed_rate(self) -> float:
        return self.rate("failure") + self.rate("error")

    @property
    def peak(self) -> int:
        return max((b.total for b in self.buckets), default=0)


def overview(user: Any, since: datetime, until: datetime) -> Overview:
    """The overview of [since, until) as `user` may see it: counts by hour (whole hours,
    the counts' grain), narrowed to an auditor's agents and period."""
    access = access_of(user)
    scope = access.scope
    since = since.replace(minute=0, second=0, microsecond=0)
    result = Overview(since=since, until=until)
    counts = ResultCount.objects.filter(hour__gte=since, hour__lt=until)
    if scope.since is not None:
        counts = counts.filter(hour__gte=scope.since.replace(minute=0, second=0, microsecond=0))
    if scope.until is not None:
        counts = counts.filter(hour__lt=scope.until)
    counts = scope.filter_agents(counts)
    # The trail is no longer counted (ingest.counts), but rows counted before that stay
    # until `rebuild_event_counts` runs: this keeps them off the overview meanwhile.
    counts = counts.exclude(agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID)

    hours = max(1, int((until - since).total_seconds() // 3600) + 1)
    result.bucket_hours = 1 if hours <= 48 else (6 if hours <= 24 * 8 else 24)
    buckets: dict[datetime, dict[str, int]] = {}
    for row in counts.values("hour", "result").annotate(n=Sum("count")).order_by():
        start = _bucket_start(row["hour"], since, result.bucket_hours)
        per = buckets.setdefault(start, {})
        per[row["result"]] = per.get(row["result"], 0) + row["n"]
        result.by_result[row["result"]] = result.by_result.get(row["result"], 0) + row["n"]
    result.total = sum(result.by_result.values())
    step = timedelta(hours=result.bucket_hours)
    start = since
    while start < until:
        per = buckets.get(start, {})
        result.buckets.append(Bucket(start, sum(per.values()), per))
        start += step
    by_agent = counts.values("agent_id").annotate(n=Sum("count")).order_by("-n", "agent_id")
    result.by_agent = [(row["agent_id"], row["n"]) for row in by_agent]
    result.agents_active = len(result.by_agent)

    if access.can(Capability.STREAMS_READ):
        _integrity(result, scope)
    return result


def _bucket_start(hour: datetime, since: datetime, bucket_hours: int) -> datetime:
    offset = int((hour - since).total_seconds() // 3600) // bucket_hours * bucket_hours
    return since + timedelta(hours=offset)


def _integrity(result: Overview, scope: Any) -> None:
    streams = scope.filter_agents(Stream.objects.all()).exclude(
        agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID
    )
    result.streams = {
        row["status"]: row["n"]
        for row in streams.values("status").annotate(n=Count("id")).order_by()
    }
    run = VerificationRun.objects.exclude(status=VerificationRun.Status.RUNNING).first()
    result.latest_run = run
    in_period = Q(received_at__gte=result.since, received_at__lt=result.until)
    dead = scope.filter_agents(RejectedBatch.objects.all())
    incidents = IntegrityIncident.objects.all()
    if scope.agents is not None:
        incidents = incidents.filter(stream__agent_id__in=sorted(scope.agents))
    # The figures that are plain counts, in one round trip.
    figures = {
        "incidents": incidents,
        "checkpoint_incidents": CheckpointIncident.objects.all(),
        "dead_letters": dead,
        "dead_letters_in_period": dead.filter(in_period),
    }
    if run is not None:
        # The trail's own stream and streams outside the scope are left out, as above.
        findings = StreamVerification.objects.filter(run=run, stream_id__in=streams.values("id"))
        result.verification = {
            row["status"]: row["n"]
            for row in findings.values("status").annotate(n=Count("id")).order_by()
        }
        figures["streams_not_in_run"] = streams.exclude(
            id__in=StreamVerification.objects.filter(run=run).values("stream_id")
        )
        if scope.agents is None:  # a vanished stream has no row left to scope it by
            figures["missing"] = run.streams.filter(status=StreamVerification.Status.MISSING)
    counted = counts(**figures)
    if run is not None:
        result.streams_not_in_run = counted["streams_not_in_run"]
        if "missing" in counted:
            result.verification[StreamVerification.Status.MISSING] = counted["missing"]
    else:
        result.streams_not_in_run = sum(result.streams.values())
    checkpoint = Checkpoint.objects.order_by("-id").first()
    result.latest_checkpoint = checkpoint
    if checkpoint is not None:
        result.checkpoint_age = timezone.now() - checkpoint.issued_at
    result.incidents = counted["incidents"]
    result.checkpoint_incidents = counted["checkpoint_incidents"]
    result.dead_letters = counted["dead_letters"]
    result.dead_letters_in_period = counted["dead_letters_in_period"]
