"""`ingest_auditevent` partitioned by month on PostgreSQL (SQLite, the embedded demo, stays
one plain table: every step below is vendor-guarded).

Why and what it costs (docs/ingestion.md, "Storage, indexes and partitioning"):
retention drops a whole month's partition after writing its anchors instead of deleting
its rows. PostgreSQL requires every unique key of a partitioned table to include the
partition key, so

- the primary key becomes (id, ts); ids still come from one identity sequence, which
  continues where the old table's stopped;
- `audit_event_stream_seq` becomes UNIQUE (stream_id, seq, ts): per partition only. The
  guarantee of one row per (stream, seq) rests on admission, which stores only head + 1
  under the stream's row lock (services.py, head_append.py), and verification checks it;
- `event_id` loses its unique index (a plain index serves lookups; the model says so):
  admission refuses an event_id stored anywhere, in any month (Reason.DUPLICATE_EVENT_ID);
- the sidecar's foreign key cannot reference `id` alone: it is gone (`db_constraint=False`);
  the prune and partition doors delete sidecars themselves.

Every key that must stay unique includes the stream, so the table can be distributed by
`stream_id` (Citus) the day one machine is outgrown.

Ownership: only a table's owner may create, attach, detach or drop its partitions, so the
partitioned table and its partitions belong to the NOLOGIN owner role
`obsportal_audit_owner`, and the runtime role reaches them only through two SECURITY
DEFINER doors of that role: `obsportal_create_audit_partition(month)` (the beat job's) and
`obsportal_drop_audit_partition(name)`, which drops a month only when prune anchors explain
every stream's rows in it. Migrations then run as a superuser or a member of the owner role.

A DEFAULT partition keeps rows outside every created month (odd or hostile timestamps);
creating a month whose rows already sit there moves them first.
"""

from datetime import UTC, datetime

from django.db import migrations, models

OWNER = "obsportal_audit_owner"
TABLE = "ingest_auditevent"
OLD = "ingest_auditevent_unpartitioned"
AHEAD = 3  # months created ahead by the migration; the beat job keeps it so
MAX_MONTHS_BACK = 240  # rows older than that stay in the default partition

# The append-only guard (0005, 0008_retention_statement_triggers) on a table: statement
# triggers fire for the table a statement names, so each partition carries them too.
GUARD = """
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION obsportal_refuse_audit_mutation();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION obsportal_refuse_audit_mutation();
"""


def _doors_sql(schema: str) -> str:
    guard = GUARD.format(table="%%1$s").replace("\n", " ")
    return f"""
CREATE FUNCTION obsportal_create_audit_partition(p_month date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema} AS $$
DECLARE
    lo timestamptz; hi timestamptz; part text; waiting bigint;
BEGIN
    IF p_month IS NULL OR p_month <> date_trunc('month', p_month)::date THEN
        RAISE EXCEPTION 'a partition starts on the first of a month, not %%', p_month;
    END IF;
    lo := p_month::timestamp AT TIME ZONE 'UTC';
    hi := (p_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    part := '{TABLE}_' || to_char(p_month, 'YYYY_MM');
    IF to_regclass(quote_ident('{schema}') || '.' || quote_ident(part)) IS NOT NULL THEN
        RETURN NULL;  -- created already
    END IF;
    SELECT count(*) INTO waiting FROM {schema}.{TABLE}_default WHERE ts >= lo AND ts < hi;
    IF waiting = 0 THEN
        EXECUTE format('CREATE TABLE {schema}.%%I PARTITION OF {schema}.{TABLE} '
                       'FOR VALUES FROM (%%L) TO (%%L)', part, lo, hi);
    ELSE
        -- The default partition holds rows of this month: PostgreSQL would refuse the new
        -- partition. No insert meanwhile; the rows move, then the month is attached.
        LOCK TABLE {schema}.{TABLE} IN SHARE ROW EXCLUSIVE MODE;
        EXECUTE format('CREATE TABLE {schema}.%%I '
                       '(LIKE {schema}.{TABLE} INCLUDING DEFAULTS)', part);
        EXECUTE format('WITH moved AS (DELETE FROM {schema}.{TABLE}_default '
                       'WHERE ts >= $1 AND ts < $2 RETURNING *) '
                       'INSERT INTO {schema}.%%I SELECT * FROM moved', part) USING lo, hi;
        EXECUTE format('ALTER TABLE {schema}.%%I ADD CONSTRAINT %%I CHECK (ts >= %%L AND ts < %%L)',
                       part, part || '_range', lo, hi);
        EXECUTE format('ALTER TABLE {schema}.{TABLE} ATTACH PARTITION {schema}.%%I '
                       'FOR VALUES FROM (%%L) TO (%%L)', part, lo, hi);
        EXECUTE format('ALTER TABLE {schema}.%%I DROP CONSTRAINT %%I', part, part || '_range');
    END IF;
    EXECUTE format('{guard}', quote_ident('{schema}') || '.' || quote_ident(part));
    RETURN part;
END $$;

-- Drop one month (detach, then drop) with its sidecars, only if the prune anchors explain
-- every stream's rows in it: an anchor of the stream reaching at least its last seq there.
-- Returns the events dropped.
CREATE FUNCTION obsportal_drop_audit_partition(p_name text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema} AS $$
DECLARE
    rel regclass; unexplained text; removed bigint;
BEGIN
    SELECT c.oid INTO rel FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = '{schema}.{TABLE}'::regclass AND c.relname = p_name
          AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT';
    IF rel IS NULL THEN
        RAISE EXCEPTION '%% is not a month partition of {TABLE}', p_name;
    END IF;
    EXECUTE format('SELECT string_agg(p.stream_id || '' through '' || p.last, '', '') FROM '
                   '(SELECT stream_id, max(seq) AS last FROM %%s GROUP BY 1) p '
                   'WHERE NOT EXISTS (SELECT 1 FROM {schema}.integrity_pruneanchor a '
                   'WHERE a.stream_id = p.stream_id AND a.last_seq >= p.last)', rel)
        INTO unexplained;
    IF unexplained IS NOT NULL THEN
        RAISE EXCEPTION 'no prune anchor explains the rows of %% in %%', unexplained, p_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('SELECT count(*) FROM %%s', rel) INTO removed;
    EXECUTE format('DELETE FROM {schema}.ingest_personaldatum d USING %%s e '
                   'WHERE d.event_id = e.id', rel);
    EXECUTE format('ALTER TABLE {schema}.{TABLE} DETACH PARTITION %%s', rel);
    EXECUTE format('DROP TABLE %%s', rel);
    RETURN removed;
END $$;

-- Admission's check that no event_id of a batch is stored in any month (no unique index
-- spans the partitions): an index probe a partition, whatever the statistics say. A month
-- partition not analyzed yet (its first minute) would otherwise be planned as a seq scan,
-- or as a parallel scan whose workers alone cost ~20 ms a batch.
CREATE FUNCTION obsportal_stored_event_id(p_ids uuid[])
RETURNS TABLE (event_id uuid, stream_id text, seq bigint)
LANGUAGE plpgsql STABLE SET enable_seqscan = off SET max_parallel_workers_per_gather = 0
SET search_path = pg_catalog, {schema} AS $$
BEGIN
    RETURN QUERY SELECT e.event_id, e.stream_id::text, e.seq FROM {schema}.{TABLE} e
        WHERE e.event_id = ANY(p_ids) LIMIT 1;
END $$;

ALTER FUNCTION obsportal_create_audit_partition(date) OWNER TO {OWNER};
ALTER FUNCTION obsportal_drop_audit_partition(text) OWNER TO {OWNER};
REVOKE ALL ON FUNCTION obsportal_create_audit_partition(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION obsportal_drop_audit_partition(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION obsportal_create_audit_partition(date) TO CURRENT_USER;
GRANT EXECUTE ON FUNCTION obsportal_drop_audit_partition(text) TO CURRENT_USER;
"""


def _one(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchone()


def _months(first: datetime, last: datetime) -> list[str]:
    year, month, months = first.year, first.month, []
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}-01")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _table_facts(cursor, *, grants_but: list[str]) -> tuple[str, int, list, list]:
    """What both directions carry over: the schema, the next id, the secondary indexes
    (name, definition) and the table's grants to roles other than `grants_but`."""
    [schema] = _one(cursor, "SELECT current_schema()")
    [sequence] = _one(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    [next_id] = _one(
        cursor,
        f"SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {sequence}",
    )
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [TABLE, TABLE],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
        " WHERE table_schema = %s AND table_name = %s AND grantee <> ALL(%s)",
        [schema, TABLE, grants_but],
    )
    return schema, int(next_id), indexes, cursor.fetchall()


def _name_the_sequence(schema_editor) -> None:
    """The new table's identity sequence takes the old name (Django and dumps expect it)."""
    with schema_editor.connection.cursor() as cursor:
        [sequence] = _one(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    if sequence.split(".")[-1] != f"{TABLE}_id_seq":
        schema_editor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    with schema_editor.connection.cursor() as cursor:
        [superuser] = _one(cursor, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        [owner] = _one(cursor, "SELECT tableowner FROM pg_tables WHERE tablename = %s", [TABLE])
        schema, next_id, indexes, grants = _table_facts(cursor, grants_but=[owner, OWNER])
        # The months that hold rows (no empty month for a gap of years), within 20 years.
        cursor.execute(
            f"SELECT DISTINCT to_char(date_trunc('month', ts AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
            f" FROM {TABLE} WHERE ts >= now() - interval '{MAX_MONTHS_BACK} months'"
            " AND ts < now()"
        )
        stored_months = {row[0] for row in cursor.fetchall()}
    if not superuser:  # the owner role will own the table: its migrator must be a member
        run(f"GRANT {OWNER} TO CURRENT_USER")

    run(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    for name, _definition in indexes:
        run(f"DROP INDEX {name}")  # names freed for the new table; the move is faster
    run(f"ALTER TABLE {OLD} DROP CONSTRAINT IF EXISTS audit_event_stream_seq")
    run(f"ALTER TABLE {OLD} DROP CONSTRAINT IF EXISTS {TABLE}_pkey")
    run(
        f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING IDENTITY)"
        " PARTITION BY RANGE (ts)"
    )
    run(f"ALTER TABLE {TABLE} ALTER COLUMN id RESTART WITH {next_id}")
    run(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    run(f"ALTER TABLE {TABLE} OWNER TO {OWNER}")
    run(f"ALTER TABLE {TABLE}_default OWNER TO {OWNER}")
    run(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {OWNER}")
    run(f"GRANT SELECT ON integrity_pruneanchor TO {OWNER}")
    run(_doors_sql(schema))

    now = datetime.now(UTC)
    last = now.replace(day=1)
    for _ in range(AHEAD):
        last = last.replace(year=last.year + (last.month == 12), month=last.month % 12 + 1)
    with schema_editor.connection.cursor() as cursor:
        for month in sorted(stored_months | set(_months(now, last))):
            cursor.execute("SELECT obsportal_create_audit_partition(%s::date)", [month])

    run(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, ts)")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT audit_event_stream_seq UNIQUE (stream_id, seq, ts)")
    for _name, definition in indexes:
        run(definition)
    run(GUARD.format(table=TABLE))
    run(GUARD.format(table=f"{TABLE}_default"))
    # The old owner (a superuser or the migrator) keeps what Django and the test suite use;
    # the runtime role keeps exactly what it had.
    run(f"GRANT SELECT, INSERT, REFERENCES ON {TABLE} TO {owner}")
    for grantee, privilege in grants:
        run(f'GRANT {privilege} ON {TABLE} TO "{grantee}"')
    run(f"DROP TABLE {OLD}")
    _name_the_sequence(schema_editor)
    run(f"ANALYZE {TABLE}")


def unpartition(apps, schema_editor):
    """Back to one plain table (a migration back past 0013, as some tests make): the rows
    move back, the keys of 0012 return, the partition doors go."""
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    with schema_editor.connection.cursor() as cursor:
        [me] = _one(cursor, "SELECT current_user")
        schema, next_id, indexes, grants = _table_facts(cursor, grants_but=[OWNER, me])
    run(
        "DROP FUNCTION obsportal_create_audit_partition(date);"
        " DROP FUNCTION obsportal_drop_audit_partition(text);"
        " DROP FUNCTION obsportal_stored_event_id(uuid[])"
    )
    parted = f"{TABLE}_partitioned"
    run(f"ALTER TABLE {TABLE} RENAME TO {parted}")
    for name, _definition in indexes:
        run(f"DROP INDEX {name}")
    run(f"ALTER TABLE {parted} DROP CONSTRAINT audit_event_stream_seq")
    run(f"ALTER TABLE {parted} DROP CONSTRAINT {TABLE}_pkey")
    run(f"CREATE TABLE {TABLE} (LIKE {parted} INCLUDING DEFAULTS INCLUDING IDENTITY)")
    run(f"ALTER TABLE {TABLE} ALTER COLUMN id RESTART WITH {next_id}")
    run(f"INSERT INTO {TABLE} SELECT * FROM {parted}")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT audit_event_stream_seq UNIQUE (stream_id, seq)")
    for _name, definition in indexes:
        run(definition.replace(" ON ONLY ", " ON "))
    run(GUARD.format(table=TABLE))
    run(f"GRANT SELECT, DELETE ON {TABLE} TO {OWNER}")
    run(f"GRANT UPDATE (subject_key) ON {TABLE} TO {OWNER}")
    for grantee, privilege in grants:
        run(f'GRANT {privilege} ON {TABLE} TO "{grantee}"')
    run(f"DROP TABLE {parted} CASCADE")
    run(f"REVOKE CREATE ON SCHEMA {schema} FROM {OWNER}")
    _name_the_sequence(schema_editor)


class Migration(migrations.Migration):
    # One transaction (the default): the move and the swap happen together or not at all.
    dependencies = [
        ("ingest", "0012_result_counts"),
        ("integrity", "0006_retention_prune_anchors"),
    ]

    operations = [
        # The sidecar's key cannot reference `id` of a partitioned table (its PK is (id, ts)).
        migrations.AlterField(
            model_name="personaldatum",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=models.deletion.CASCADE,
                related_name="personal_data",
                to="ingest.auditevent",
            ),
        ),
        # A unique index cannot span partitions: admission refuses a reused event_id.
        migrations.AlterField(
            model_name="auditevent",
            name="event_id",
            field=models.UUIDField(db_index=True),
        ),
        migrations.RunPython(partition, unpartition),
    ]
