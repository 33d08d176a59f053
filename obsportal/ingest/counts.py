"""The hourly counts kept at admission, in the transaction that stores the rows.

EventCount: per hour, agent, action and result (the portal's own trail excepted).
ResultCount: the same summed over actions, the overview's grain (a week of it is a few
times fewer rows to add up). Both
are written by the same statements, so ResultCount is always exactly EventCount's sum;
`counts_disagreeing` checks it, and `rebuild_event_counts` recounts both from the rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Sum

from obsportal.ingest.envelope import parse_ts
from obsportal.ingest.models import EventCount, ResultCount


def _counted(agent_id: str) -> bool:
    """The portal's own trail is not counted: the counts are the overview's, which shows
    agents, never the trail; its two upserts (hot rows, one per request) were ~0.15 ms of
    a request's recording (benchmarks/trail_overhead.py). The trail is counted from its rows."""
    return agent_id != settings.OBSPORTAL_TRAIL_AGENT_ID


def _hour(text: str) -> datetime:
    """`YYYY-MM-DDTHH` (UTC) as the datetime of that hour."""
    return parse_ts(text + ":00:00Z").astimezone(UTC)


def count_events(events: list[dict[str, Any]]) -> None:
    """Add stored events to the hourly counts, in the caller's transaction.

    One statement a batch (both tables' upserts); keys in sorted order so that two
    batches adding to the same hours never deadlock. Each key's row is locked until the
    batch commits: batches of one agent's streams serialize on it for that instant only.
    """
    # Tallied by the hour's text: the envelope's `ts` is always UTC in one form
    # (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), so its first 13 characters name the hour, and
    # only the few distinct hours are parsed (parsing each event's was ~2 µs of ~35).
    by_text: Counter[tuple[str, str, str, str]] = Counter(
        (event["ts"][:13], event["agent_id"], event["action"], event["result"])
        for event in events
        if _counted(event["agent_id"])
    )
    if not by_text:
        return
    hours = {key[0]: _hour(key[0]) for key in by_text}
    tally: Counter[tuple[datetime, str, str, str]] = Counter(
        {
            (hours[hour], agent_id, action, result): n
            for (hour, agent_id, action, result), n in by_text.items()
        }
    )
    summed: Counter[tuple[datetime, str, str]] = Counter()
    for (hour, agent_id, _action, result), n in tally.items():
        summed[(hour, agent_id, result)] += n
    keys, sums = sorted(tally), sorted(summed)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Both tables in one statement: a batch's round trips stay fixed.
            cursor.execute(
                "WITH counted AS ("
                " INSERT INTO ingest_eventcount (hour, agent_id, action, result, count)"
                " SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::text[],"
                "   %s::bigint[])"
                " ON CONFLICT (hour, agent_id, action, result)"
                " DO UPDATE SET count = ingest_eventcount.count + excluded.count)"
                " INSERT INTO ingest_resultcount (hour, agent_id, result, count)"
                " SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::bigint[])"
                " ON CONFLICT (hour, agent_id, result)"
                " DO UPDATE SET count = ingest_resultcount.count + excluded.count",
                [
                    *([k[i] for k in keys] for i in range(4)),
                    [tally[k] for k in keys],
                    *([k[i] for k in sums] for i in range(3)),
                    [summed[k] for k in sums],
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
    for sum_key in sums:
        hour, agent_id, result = sum_key
        total, created = ResultCount.objects.get_or_create(
            hour=hour, agent_id=agent_id, result=result, defaults={"count": summed[sum_key]}
        )
        if not created:
            ResultCount.objects.filter(pk=total.pk).update(count=F("count") + summed[sum_key])


# Rebuilds the counts from the rows themselves: after a bulk load that went around
# admission (the benchmarks' COPY), and once by the migrations that added them.
REBUILD_EVENT_COUNTS_SQL = """
DELETE FROM ingest_eventcount;
INSERT INTO ingest_eventcount (hour, agent_id, action, result, count)
SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', agent_id, action, result,
       count(*)
FROM ingest_auditevent WHERE agent_id <> %s GROUP BY 1, 2, 3, 4;
"""
REBUILD_RESULT_COUNTS_SQL = """
DELETE FROM ingest_resultcount;
INSERT INTO ingest_resultcount (hour, agent_id, result, count)
SELECT hour, agent_id, result, sum(count) FROM ingest_eventcount GROUP BY 1, 2, 3;
"""


def rebuild_event_counts() -> None:
    """Recount every stored row (but the trail's, see `_counted`) into EventCount, and
    EventCount into ResultCount (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(REBUILD_EVENT_COUNTS_SQL, [settings.OBSPORTAL_TRAIL_AGENT_ID])
        cursor.execute(REBUILD_RESULT_COUNTS_SQL)
        # Fresh statistics: the planner otherwise guesses a hundred rows for a week of counts.
        cursor.execute("ANALYZE ingest_eventcount")
        cursor.execute("ANALYZE ingest_resultcount")


def counts_disagreeing() -> list[tuple[datetime, str, str, int, int]]:
    """Every (hour, agent, result) where ResultCount is not EventCount's sum over actions,
    with both figures; empty when they agree (as admission keeps them)."""
    summed = {
        (r["hour"], r["agent_id"], r["result"]): r["n"]
        for r in EventCount.objects.values("hour", "agent_id", "result")
        .annotate(n=Sum("count"))
        .order_by()
    }
    kept = {
        (r.hour, r.agent_id, r.result): r.count
        for r in ResultCount.objects.only("hour", "agent_id", "result", "count")
    }
    return sorted(
        (*key, summed.get(key, 0), kept.get(key, 0))
        for key in summed.keys() | kept.keys()
        if summed.get(key, 0) != kept.get(key, 0)
    )
