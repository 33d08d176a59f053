"""The hourly event counts (EventCount) kept at admission, and their rebuild from the rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import F

from obsportal.ingest.envelope import (
    parse_ts,
)
from obsportal.ingest.models import (
    EventCount,
)


def count_events(events: list[dict[str, Any]]) -> None:
    """Add stored events to the hourly counts (EventCount), in the caller's transaction.

    One upsert a batch; keys in sorted order so that two batches adding to the same
    hours never deadlock. Each key's row is locked until the batch commits: batches of
    one agent's streams serialize on it for that instant only.
    """
    tally: Counter[tuple[datetime, str, str, str]] = Counter()
    for event in events:
        hour = parse_ts(event["ts"]).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        tally[(hour, event["agent_id"], event["action"], event["result"])] += 1
    if not tally:
        return
    keys = sorted(tally)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ingest_eventcount (hour, agent_id, action, result, count)"
                " SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::text[],"
                "   %s::bigint[])"
                " ON CONFLICT (hour, agent_id, action, result)"
                " DO UPDATE SET count = ingest_eventcount.count + excluded.count",
                [
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                    [k[2] for k in keys],
                    [k[3] for k in keys],
                    [tally[k] for k in keys],
                ],
            )
        return
    for key in keys:
        hour, agent_id, action, result = key
        row, created = EventCount.objects.get_or_create(
            hour=hour,
            agent_id=agent_id,
            action=action,
            result=result,
            defaults={"count": tally[key]},
        )
        if not created:
            EventCount.objects.filter(pk=row.pk).update(count=F("count") + tally[key])


# Rebuilds the counts from the rows themselves: after a bulk load that went around
# admission (the benchmarks' COPY), and once by the migration that added them.
REBUILD_EVENT_COUNTS_SQL = """
DELETE FROM ingest_eventcount;
INSERT INTO ingest_eventcount (hour, agent_id, action, result, count)
SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', agent_id, action, result,
       count(*)
FROM ingest_auditevent GROUP BY 1, 2, 3, 4;
"""


def rebuild_event_counts() -> None:
    """Recount every stored row into EventCount (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(REBUILD_EVENT_COUNTS_SQL)
        # Fresh statistics: the planner otherwise guesses a hundred rows for a week of counts.
        cursor.execute("ANALYZE ingest_eventcount")
