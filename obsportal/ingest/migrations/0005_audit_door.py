"""Close the door: no session setting lets the application's role change audit rows.

0002's trigger let any transaction that set `obsportal.audit_mutation` through. Now
audit rows and their sidecars change only

- inside the SECURITY DEFINER functions below, which run as the NOLOGIN role
  `obsportal_audit_owner` (the narrow paths of retention and erasure), or
- for a PostgreSQL superuser who sets the flag (the test suite's flush between
  tests; a superuser can drop the trigger anyway).

A role that is neither, even with UPDATE, DELETE and TRUNCATE grants, is refused.
The application's runtime role must therefore not be a superuser, not own these
tables (an owner can disable triggers) and not be a member of the owner role; see
obsportal/integrity/README.md, "The database door".
"""

from django.db import migrations

OWNER = "obsportal_audit_owner"

TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION obsportal_refuse_audit_mutation() RETURNS trigger AS $$
BEGIN
    IF current_user = '{OWNER}'
       OR (coalesce(current_setting('obsportal.audit_mutation', true), '') = 'on'
           AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)) THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: %% on %% refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

OLD_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION obsportal_refuse_audit_mutation() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('obsportal.audit_mutation', true), '') <> 'on' THEN
        RAISE EXCEPTION 'audit events are append-only: %% on %% refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

# Roles are cluster-wide: another database of the cluster may have created it already,
# possibly at this very moment.
CREATE_OWNER = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
        CREATE ROLE {OWNER} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
"""


def _door_sql(schema: str) -> str:
    return f"""
CREATE TRIGGER personal_datum_append_only
    BEFORE UPDATE OR DELETE ON ingest_personaldatum
    FOR EACH ROW EXECUTE FUNCTION obsportal_refuse_audit_mutation();
CREATE TRIGGER personal_datum_no_truncate
    BEFORE TRUNCATE ON ingest_personaldatum
    FOR EACH STATEMENT EXECUTE FUNCTION obsportal_refuse_audit_mutation();

GRANT USAGE ON SCHEMA {schema} TO {OWNER};
GRANT SELECT, DELETE ON ingest_auditevent, ingest_personaldatum TO {OWNER};

-- Retention: remove seq first..last of one stream, sidecars first. Returns the rows removed.
CREATE FUNCTION obsportal_prune_audit_events(p_stream text, p_first bigint, p_last bigint)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema} AS $$
DECLARE removed bigint;
BEGIN
    IF p_first > p_last THEN
        RAISE EXCEPTION 'prune range %%..%% is reversed', p_first, p_last;
    END IF;
    DELETE FROM ingest_personaldatum d USING ingest_auditevent e
        WHERE d.event_id = e.id AND e.stream_id = p_stream AND e.seq BETWEEN p_first AND p_last;
    DELETE FROM ingest_auditevent WHERE stream_id = p_stream AND seq BETWEEN p_first AND p_last;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;

-- Erasure (GDPR Art. 17): delete sidecar entries only; the hashed rows stay.
CREATE FUNCTION obsportal_erase_personal_data(p_events bigint[], p_fields text[])
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema} AS $$
DECLARE removed bigint;
BEGIN
    DELETE FROM ingest_personaldatum WHERE event_id = ANY(p_events) AND field = ANY(p_fields);
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;

ALTER FUNCTION obsportal_prune_audit_events(text, bigint, bigint) OWNER TO {OWNER};
ALTER FUNCTION obsportal_erase_personal_data(bigint[], text[]) OWNER TO {OWNER};
REVOKE ALL ON FUNCTION obsportal_prune_audit_events(text, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION obsportal_erase_personal_data(bigint[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION obsportal_prune_audit_events(text, bigint, bigint) TO CURRENT_USER;
GRANT EXECUTE ON FUNCTION obsportal_erase_personal_data(bigint[], text[]) TO CURRENT_USER;
"""


UNDO = f"""
DROP FUNCTION IF EXISTS obsportal_prune_audit_events(text, bigint, bigint);
DROP FUNCTION IF EXISTS obsportal_erase_personal_data(bigint[], text[]);
DROP TRIGGER IF EXISTS personal_datum_no_truncate ON ingest_personaldatum;
DROP TRIGGER IF EXISTS personal_datum_append_only ON ingest_personaldatum;
REVOKE ALL ON ingest_auditevent, ingest_personaldatum FROM {OWNER};
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        [schema] = cursor.fetchone()
    schema_editor.execute(CREATE_OWNER)
    schema_editor.execute(TRIGGER_FUNCTION)
    schema_editor.execute(_door_sql(schema))


def undo(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO)
        schema_editor.execute(OLD_TRIGGER_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("ingest", "0004_lighter_ingest_writes")]
    operations = [migrations.RunPython(create, undo)]
