"""Month partitions of the audit table (PostgreSQL; ingest migration 0013).

The beat job (`tasks.create_partitions_ahead`) and `manage.py audit_partitions` create the
current month and the next `OBSPORTAL_AUDIT_PARTITIONS_AHEAD` ahead, so a month's rows land
in its own partition from its first second. A row outside every created month lands in the
DEFAULT partition; creating its month later moves it there (the door does it). Creating and
dropping go through SECURITY DEFINER doors of the owner role: the runtime role owns no
partition, so it can neither create, detach nor drop one itself. SQLite (the embedded demo)
has one plain table: every function here is a no-op there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import connection

TABLE = "ingest_auditevent"
DEFAULT_PARTITION = f"{TABLE}_default"


@dataclass(frozen=True)
class MonthPartition:
    name: str
    lower: datetime  # inclusive
    upper: datetime  # exclusive


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return bool(row and row[0])


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_partitions() -> list[MonthPartition]:
    """The month partitions attached now, oldest first (the default partition aside)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        rows = cursor.fetchall()
    months = []
    for name, bound in rows:
        if bound == "DEFAULT":
            continue
        # FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')
        lower, upper = (datetime.fromisoformat(part.split("'")[1]) for part in bound.split("TO"))
        months.append(MonthPartition(name, lower.astimezone(UTC), upper.astimezone(UTC)))
    return sorted(months, key=lambda month: month.lower)


def create_month(month: date) -> str | None:
    """Create the partition of `month` (rows of it in the default partition move into it);
    its name, or None if it exists already (or the table is not partitioned)."""
    if not is_partitioned():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT obsportal_create_audit_partition(%s::date)", [month_start(month)])
        return cursor.fetchone()[0]


def create_partitions_ahead(months: int | None = None, today: date | None = None) -> list[str]:
    """Create this month's partition and the next `months`; the names created now."""
    if not is_partitioned():
        return []
    ahead = settings.OBSPORTAL_AUDIT_PARTITIONS_AHEAD if months is None else months
    first = month_start(today or datetime.now(UTC))
    created = [create_month(add_months(first, step)) for step in range(ahead + 1)]
    return [name for name in created if name]
