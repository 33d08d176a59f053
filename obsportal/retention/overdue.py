"""Events past their policy: what a retention run would find still stored although the
policy deciding it has expired for it. Held events are counted apart (a hold keeps them);
the rest is what the next approved run removes, so the figure is 0 after a complete run
unless a stream's cut stops below them (a younger event, a hold, a key pin before them).

The report's retention statement and the `obsportal_retention_events_past_policy` gauge
both read `events_past_policy`, over the same SQL the dry run and the run apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from obsportal.ingest.models import AuditEvent
from obsportal.retention.selectors import TABLE, Rules, held_sql


@dataclass
class PastPolicy:
    """The events one policy decides that are past its period: those still stored that may
    go (`past`, which a completed run leaves at 0) and those an active hold keeps."""

    policy: str
    framework: str
    keep_days: int
    past: int = 0
    held: int = 0


def events_past_policy(rules: Rules, scope: QuerySet[AuditEvent] | None = None) -> list[PastPolicy]:
    """Per policy of `rules` (longest first, zeros kept), the events of `scope` (default:
    every stored event) past the period of the policy deciding them: the CASE the dry run
    and the run apply, so a report and the metric count what retention itself would."""
    if not rules.policies:
        return []
    found = {p.name: PastPolicy(p.name, p.framework, p.keep_days) for p in rules.policies}
    deciding, deciding_params = rules.deciding_sql()
    held, held_params = held_sql(rules.holds)
    expired, expired_params = rules.expired_sql()
    # An expired event is older than the latest cutoff (the shortest policy's): a bound on
    # ts that the ts index can serve when few events are that old.
    latest = connection.ops.adapt_datetimefield_value(max(map(rules.cutoff, rules.policies)))
    where, where_params = "", []
    if scope is not None:
        inner, inner_params = scope.values("id").query.sql_with_params()
        where, where_params = f" AND id IN ({inner})", list(inner_params)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {deciding}, count(*), sum(CASE WHEN {held} THEN 1 ELSE 0 END) "
            f"FROM {TABLE} WHERE ts < %s AND {expired}{where} GROUP BY 1",
            [*deciding_params, *held_params, latest, *expired_params, *where_params],
        )
        rows = cursor.fetchall()
    for name, count, held_count in rows:
        entry = found[name]
        entry.held = int(held_count or 0)
        entry.past = count - entry.held
    return list(found.values())
