"""Ingest migration 0013 converts a populated audit table (PostgreSQL) and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions are PostgreSQL's"
)

ROW = (
    "INSERT INTO ingest_auditevent (event_id, stream_id, seq, ts, agent_id, action, result,"
    " details, pii_commitments, prev_hash, hash, received_at) VALUES"
    " (gen_random_uuid(), 'old', %s, %s, 'agent-7', 'x', 'success', '{}', '{}', 'p', 'h', now())"
    " RETURNING id"
)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_a_populated_table_is_moved_into_months_with_its_ids_sidecars_and_guard():
    _migrate(("ingest", "0012_result_counts"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'ingest_auditevent'")
        assert cursor.fetchone()[0] == "r"
        ids = []
        for seq, ts in enumerate(["2025-03-04", "2026-11-30", "2001-01-01"]):
            cursor.execute(ROW, [seq, ts])
            ids.append(cursor.fetchone()[0])
        cursor.execute(
            "INSERT INTO ingest_personaldatum (field, value, salt, event_id)"
            " VALUES ('email', '\"a@example.com\"', 's', %s)",
            [ids[0]],
        )
    _migrate(None)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, tableoid::regclass::text FROM ingest_auditevent"
            " WHERE stream_id = 'old' ORDER BY seq"
        )
        # Each month that holds rows (within 20 years), and this month and three ahead.
        assert cursor.fetchall() == [
            (0, "ingest_auditevent_2025_03"),
            (1, "ingest_auditevent_2026_11"),
            (2, "ingest_auditevent_default"),  # more than 20 years back: no month for it
        ]
        cursor.execute(ROW, [3, "2026-12-01"])
        assert cursor.fetchone()[0] == max(ids) + 1  # the sequence goes on
        cursor.execute("SELECT count(*) FROM ingest_personaldatum WHERE event_id = %s", [ids[0]])
        assert cursor.fetchone()[0] == 1
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_event_append_only'"
            " AND tgrelid = 'ingest_auditevent_2025_03'::regclass"
        )
        assert cursor.fetchone()[0] == 1
