"""Admission's event_id check probes only the months that hold rows.

`obsportal_stored_event_id` (0013) asked the partitioned table, so each of a batch's ids was
looked up in every partition's event_id index: the months created ahead and the default
partition, empty, cost a descent per id each (~0.4 ms a batch apiece, of ~2.7 ms for the
check at 200,000 rows; benchmarks/README.md). It now walks the partitions and skips an
empty one (a scan of an empty heap reads no page).

Reading a partition by name needs privileges on it, which only the owner role has
(0013): the function is SECURITY DEFINER of that role, with a fixed search_path, returns
only what a caller holding SELECT on the audit table could read itself, and is granted to
exactly those roles.
"""

from django.db import migrations

OWNER = "obsportal_audit_owner"
TABLE = "ingest_auditevent"


def _probe_sql(schema: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION obsportal_stored_event_id(p_ids uuid[])
RETURNS TABLE (event_id uuid, stream_id text, seq bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET enable_seqscan = off
SET max_parallel_workers_per_gather = 0 SET search_path = pg_catalog, {schema} AS $$
DECLARE
    part regclass; busy boolean;
BEGIN
    FOR part IN SELECT i.inhrelid::regclass FROM pg_inherits i
                 WHERE i.inhparent = '{schema}.{TABLE}'::regclass LOOP
        -- enable_seqscan = off still lets an empty heap answer without an index.
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', part) INTO busy;
        CONTINUE WHEN NOT busy;
        RETURN QUERY EXECUTE format(
            'SELECT e.event_id, e.stream_id::text, e.seq FROM %s e '
            'WHERE e.event_id = ANY($1) LIMIT 1', part) USING p_ids;
        IF FOUND THEN
            RETURN;
        END IF;
    END LOOP;
END $$;
ALTER FUNCTION obsportal_stored_event_id(uuid[]) OWNER TO {OWNER};
REVOKE ALL ON FUNCTION obsportal_stored_event_id(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION obsportal_stored_event_id(uuid[]) TO CURRENT_USER;
"""


def _old_sql(schema: str) -> str:
    return f"""
DROP FUNCTION obsportal_stored_event_id(uuid[]);
CREATE FUNCTION obsportal_stored_event_id(p_ids uuid[])
RETURNS TABLE (event_id uuid, stream_id text, seq bigint)
LANGUAGE plpgsql STABLE SET enable_seqscan = off SET max_parallel_workers_per_gather = 0
SET search_path = pg_catalog, {schema} AS $$
BEGIN
    RETURN QUERY SELECT e.event_id, e.stream_id::text, e.seq FROM {schema}.{TABLE} e
        WHERE e.event_id = ANY(p_ids) LIMIT 1;
END $$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        [schema] = cursor.fetchone()
        cursor.execute(_probe_sql(schema))
        # Every role that may read the table (by grant or membership), not only the roles
        # information_schema shows this one; superusers need no grant.
        cursor.execute(
            "SELECT rolname FROM pg_roles WHERE NOT rolsuper AND rolname !~ '^pg_'"
            " AND rolname <> ALL(ARRAY[current_user::text, %s])"
            " AND has_table_privilege(oid, %s, 'SELECT')",
            [OWNER, f"{schema}.{TABLE}"],
        )
        for (role,) in cursor.fetchall():
            cursor.execute(
                f'GRANT EXECUTE ON FUNCTION obsportal_stored_event_id(uuid[]) TO "{role}"'
            )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        [schema] = cursor.fetchone()
        cursor.execute(_old_sql(schema))


class Migration(migrations.Migration):
    dependencies = [("ingest", "0013_partition_audit_events")]

    operations = [migrations.RunPython(forward, backward)]
