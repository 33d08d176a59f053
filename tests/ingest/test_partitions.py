"""The audit table by month (PostgreSQL): partitions ahead, the default partition, and the
uniqueness admission keeps where no index spans the months."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from obsportal.ingest import partitions
from obsportal.ingest.models import AuditEvent, IntegrityIncident
from obsportal.ingest.services import admit_batch
from tests.support.chains import superuser_sql
from tests.support.months import MARCH_2019, admit, days_from, stamped_chain

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions are PostgreSQL's"
)


def _partition_of(event_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM ingest_auditevent WHERE event_id = %s",
            [event_id],
        )
        return cursor.fetchone()[0]


def test_this_month_and_the_next_ones_exist_and_creating_them_again_is_a_no_op(db):
    today = datetime.now(UTC).date()
    names = {month.name for month in partitions.month_partitions()}
    for step in range(settings.OBSPORTAL_AUDIT_PARTITIONS_AHEAD + 1):
        month = partitions.add_months(partitions.month_start(today), step)
        assert f"ingest_auditevent_{month:%Y_%m}" in names
    assert partitions.create_partitions_ahead() == []


def test_the_beat_task_and_the_command_create_months_ahead(db, capsys):
    from obsportal.ingest.tasks import create_partitions_ahead

    far = settings.OBSPORTAL_AUDIT_PARTITIONS_AHEAD + 2
    call_command("audit_partitions", ahead=far)
    out = capsys.readouterr().out
    last = partitions.add_months(partitions.month_start(datetime.now(UTC)), far)
    assert f"created ingest_auditevent_{last:%Y_%m}" in out
    assert f"ingest_auditevent_{last:%Y_%m}: {last:%Y-%m-%d}" in out
    assert create_partitions_ahead.apply().get() == {"created": []}
    assert "ingest-partitions-ahead" in settings.CELERY_BEAT_SCHEDULE


def test_rows_of_a_month_not_created_yet_wait_in_the_default_and_move_when_it_is(
    agent_token, signing_key
):
    agent, token = agent_token
    may_2017 = datetime(2017, 5, 3, tzinfo=UTC)  # a month no other test creates
    events = stamped_chain(agent, "old-stream", days_from(may_2017, 3))
    admit(token, events)
    assert _partition_of(events[0]["event_id"]) == "ingest_auditevent_default"
    # Creating the month would fail in PostgreSQL with its rows in the default: the door
    # moves them first.
    assert partitions.create_month(date(2017, 5, 1)) == "ingest_auditevent_2017_05"
    assert {_partition_of(e["event_id"]) for e in events} == {"ingest_auditevent_2017_05"}
    assert AuditEvent.objects.filter(stream_id="old-stream").count() == 3
    # The chain goes on after the move, and a far past still has a home.
    later = stamped_chain(
        agent, "old-stream", [datetime(2001, 1, 1, tzinfo=UTC)], start=3, prev=events[-1]["hash"]
    )
    admit(token, later)
    assert _partition_of(later[0]["event_id"]) == "ingest_auditevent_default"


def test_an_event_id_stored_in_another_month_is_refused_with_a_clear_verdict(agent_token):
    agent, token = agent_token
    partitions.create_month(date(2019, 3, 1))
    old = stamped_chain(agent, "stream-march", days_from(MARCH_2019, 2))
    admit(token, old)
    reused = stamped_chain(agent, "stream-now", [datetime.now(UTC)])
    reused[0]["event_id"] = old[1]["event_id"]
    from agents_sdk.audit.chain import GENESIS_HASH, compute_hash

    body = {k: v for k, v in reused[0].items() if k != "hash"}
    reused[0]["hash"] = compute_hash(body, GENESIS_HASH)
    verdict = admit_batch({"token": token, "events": reused})
    assert verdict.status == "rejected"
    assert verdict.reason_code == "duplicate_event_id"
    assert f"event_id {old[1]['event_id']} is already stored" in verdict.reason
    assert "stream stream-march seq 1" in verdict.reason
    assert not AuditEvent.objects.filter(stream_id="stream-now").exists()


def test_an_event_id_stored_in_the_default_partition_is_refused_though_empty_months_are_skipped(
    agent_token,
):
    # The probe (migration 0014) skips empty months; the default partition holding one row
    # is not empty, and a month created ahead with no row is skipped without a miss.
    agent, token = agent_token
    old = stamped_chain(agent, "stream-2002", [datetime(2002, 7, 1, tzinfo=UTC)])
    admit(token, old)
    assert _partition_of(old[0]["event_id"]) == "ingest_auditevent_default"
    reused = stamped_chain(agent, "stream-today", [datetime.now(UTC)])
    reused[0]["event_id"] = old[0]["event_id"]
    from agents_sdk.audit.chain import GENESIS_HASH, compute_hash

    body = {k: v for k, v in reused[0].items() if k != "hash"}
    reused[0]["hash"] = compute_hash(body, GENESIS_HASH)
    verdict = admit_batch({"token": token, "events": reused})
    assert verdict.reason_code == "duplicate_event_id"
    assert "stream stream-2002 seq 0" in verdict.reason
    assert not AuditEvent.objects.filter(stream_id="stream-today").exists()


def test_an_event_id_twice_in_one_batch_is_refused(agent_token):
    agent, token = agent_token
    events = stamped_chain(agent, "twice", [datetime.now(UTC)] * 2)
    from agents_sdk.audit.chain import compute_hash

    events[1]["event_id"] = events[0]["event_id"]
    body = {k: v for k, v in events[1].items() if k != "hash"}
    events[1]["hash"] = compute_hash(body, events[0]["hash"])
    verdict = admit_batch({"token": token, "events": events})
    assert (verdict.status, verdict.reason_code) == ("rejected", "duplicate_event_id")
    assert "used twice in the batch" in verdict.reason
    assert not AuditEvent.objects.filter(stream_id="twice").exists()


def test_a_seq_offered_again_with_a_ts_in_another_month_is_a_fork_never_a_second_row(
    agent_token,
):
    agent, token = agent_token
    partitions.create_month(date(2019, 3, 1))
    admit(token, stamped_chain(agent, "one-seq", [datetime.now(UTC)]))
    # The same seq 0, stamped in March 2019: a unique index per month would let it in; the
    # head lock does not.
    other = stamped_chain(agent, "one-seq", [MARCH_2019])
    verdict = admit_batch({"token": token, "events": other})
    assert (verdict.status, verdict.reason_code, verdict.forks) == ("rejected", "fork", 1)
    assert AuditEvent.objects.filter(stream_id="one-seq", seq=0).count() == 1
    assert IntegrityIncident.objects.filter(stream_id="one-seq", seq=0).count() == 1


def test_the_event_page_and_api_answer_when_one_event_id_was_stored_twice(
    transactional_db, agent_token, client, api_client, django_user_model
):
    from tests.factories import with_role

    agent, token = agent_token
    partitions.create_month(date(2019, 3, 1))
    [event] = stamped_chain(agent, "copied", [datetime.now(UTC)])
    admit(token, [event])
    # A row copied into another month by someone with the database's keys (or a race of
    # two streams reusing one id): no unique index stops it, nothing may answer 500.
    columns = (
        "event_id, stream_id, seq, ts, agent_id, action, result, user_id, resource, details,"
        " trace_id, span_id, pii_commitments, prev_hash, hash, canonical, received_at"
    )
    superuser_sql(
        (
            f"INSERT INTO ingest_auditevent ({columns}) SELECT {columns.replace(' ts,', ' %s,')}"
            " FROM ingest_auditevent WHERE event_id = %s",
            (MARCH_2019, event["event_id"]),
        )
    )
    assert AuditEvent.objects.filter(event_id=event["event_id"]).count() == 2
    response = api_client.get(f"/api/v1/events/{event['event_id']}/")
    assert response.status_code == 200
    assert response.json()["ts"].startswith(event["ts"][:19])
    user = with_role(django_user_model.objects.create_user("reader", password="pw-r-123456"))
    client.force_login(user)
    assert client.get(f"/events/{event['event_id']}/").status_code == 200


@pytest.fixture
def app_role(transactional_db):
    """A login role like the runtime one: SELECT and INSERT on the audit table, no more."""
    role = f"partition_probe_{settings.DATABASES['default']['NAME']}"[:60]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN CREATE ROLE {role} LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        cursor.execute(f"GRANT SELECT, INSERT ON ingest_auditevent TO {role}")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION obsportal_drop_audit_partition TO {role}")
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE ALL ON ingest_auditevent FROM {role}")
        cursor.execute(f"REVOKE ALL ON FUNCTION obsportal_drop_audit_partition FROM {role}")


def _as(role: str) -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        f"host={db['HOST']} port={db['PORT'] or 5432} user={role} dbname={db['NAME']}",
        autocommit=True,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE ingest_auditevent_2019_03",
        "ALTER TABLE ingest_auditevent DETACH PARTITION ingest_auditevent_2019_03",
        "TRUNCATE ingest_auditevent_2019_03",
        "DELETE FROM ingest_auditevent_2019_03",
    ],
)
def test_the_app_role_cannot_drop_detach_or_empty_a_month_itself(app_role, agent_token, statement):
    agent, token = agent_token
    partitions.create_month(date(2019, 3, 1))
    admit(token, stamped_chain(agent, "kept", days_from(MARCH_2019, 2)))
    with _as(app_role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    assert AuditEvent.objects.filter(stream_id="kept").count() == 2


def test_the_door_refuses_a_month_no_anchor_explains(app_role, agent_token):
    agent, token = agent_token
    partitions.create_month(date(2019, 3, 1))
    admit(token, stamped_chain(agent, "kept", days_from(MARCH_2019, 2)))
    with (
        _as(app_role) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="no prune anchor explains"),
    ):
        conn.execute("SELECT obsportal_drop_audit_partition('ingest_auditevent_2019_03')")
    with _as(app_role) as conn, pytest.raises(psycopg.errors.RaiseException, match="not a month"):
        conn.execute("SELECT obsportal_drop_audit_partition('ingest_auditevent_default')")
    assert AuditEvent.objects.filter(stream_id="kept").count() == 2


def test_the_event_id_probe_answers_only_roles_that_may_read_the_table(app_role, agent_token):
    # SECURITY DEFINER of the owner role (migration 0014), so not PUBLIC's: a role without
    # its grant (one the migration did not find reading the table) learns nothing through
    # it; a reader, once granted, learns only what it could read itself.
    agent, token = agent_token
    [event] = stamped_chain(agent, "probed", [datetime.now(UTC)])
    admit(token, [event])
    probe = "SELECT stream_id, seq FROM obsportal_stored_event_id(%s::uuid[])"
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE ALL ON ingest_auditevent FROM {app_role}")
    with _as(app_role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(probe, [[event["event_id"]]])
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT SELECT ON ingest_auditevent TO {app_role}")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION obsportal_stored_event_id TO {app_role}")
    try:
        with _as(app_role) as conn:
            assert conn.execute(probe, [[event["event_id"]]]).fetchall() == [("probed", 0)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"REVOKE ALL ON FUNCTION obsportal_stored_event_id FROM {app_role}")
