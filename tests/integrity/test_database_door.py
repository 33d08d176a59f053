"""The database door: no session setting lets a non-owner role change audit rows.

Only the narrow SECURITY DEFINER paths (retention's prune, erasure's sidecar delete),
owned by a separate owner role, may remove anything.
"""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from obsportal.ingest.models import AuditEvent, PersonalDatum
from tests.factories import journal_events

AUDIT_TABLES = ("ingest_auditevent", "ingest_personaldatum", "integrity_checkpoint")


def _dsn(user: str) -> str:
    db = settings.DATABASES["default"]
    return f"host={db['HOST']} port={db['PORT'] or 5432} user={user} dbname={db['NAME']}"


@pytest.fixture
def writer_role(transactional_db):
    """A login role that is neither owner nor superuser, granted UPDATE, DELETE and TRUNCATE."""
    role = f"door_probe_{settings.DATABASES['default']['NAME']}"[:60]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN CREATE ROLE {role} LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        for table in AUDIT_TABLES:
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {table} TO {role}")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION obsportal_erase_personal_data TO {role}")
    yield role
    with connection.cursor() as cursor:
        for table in AUDIT_TABLES:
            cursor.execute(f"REVOKE ALL ON {table} FROM {role}")
        cursor.execute(f"REVOKE ALL ON FUNCTION obsportal_erase_personal_data FROM {role}")


@pytest.fixture
def stored(agent_token, tmp_path, signing_key):
    from obsportal.ingest.services import admit_batch
    from obsportal.integrity.checkpoints import sign_checkpoint

    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3, personal_data={"email": "a@example.com"})
    assert admit_batch({"token": token, "events": events}).admitted == 3
    sign_checkpoint()
    return events


ATTACKS = [
    ("SET obsportal.audit_mutation = 'on'", "UPDATE ingest_auditevent SET action = 'x'"),
    ("SET obsportal.audit_mutation = 'on'", "DELETE FROM ingest_auditevent"),
    ("SET obsportal.audit_mutation = 'on'", "TRUNCATE ingest_auditevent CASCADE"),
    ("SET obsportal.audit_mutation = 'on'", "UPDATE ingest_personaldatum SET value = '\"x\"'"),
    ("SET obsportal.audit_mutation = 'on'", "DELETE FROM integrity_checkpoint"),
    ("SELECT 1", "UPDATE ingest_auditevent SET action = 'x'"),
]


@pytest.mark.parametrize(("setting", "statement"), ATTACKS)
def test_a_non_owner_role_with_grants_cannot_change_audit_rows_by_any_setting(
    writer_role, stored, setting, statement
):
    with psycopg.connect(_dsn(writer_role)) as conn:
        conn.execute(setting)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
    assert list(AuditEvent.objects.values_list("action", flat=True).distinct()) == ["tool_execute"]
    assert PersonalDatum.objects.count() == 3


def test_a_non_owner_role_cannot_become_the_owner_role(writer_role, stored):
    with (
        psycopg.connect(_dsn(writer_role)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SET ROLE obsportal_audit_owner")


def test_erasure_runs_through_the_owner_function_and_removes_only_sidecars(writer_role, stored):
    pks = list(AuditEvent.objects.order_by("seq").values_list("id", flat=True))
    with psycopg.connect(_dsn(writer_role), autocommit=True) as conn:
        [(removed,)] = conn.execute(
            "SELECT obsportal_erase_personal_data(%s, %s)", (pks[:2], ["email"])
        ).fetchall()
    assert removed == 2
    assert list(PersonalDatum.objects.values_list("event_id", flat=True)) == [pks[2]]
    assert AuditEvent.objects.count() == 3


def test_prune_removes_a_range_of_one_stream_through_the_owner_function(stored):
    from obsportal.ingest.audit_door import prune_events

    stream = stored[0]["stream"]
    assert prune_events(stream, 0, 1) == 2
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [2]
    assert PersonalDatum.objects.count() == 1
