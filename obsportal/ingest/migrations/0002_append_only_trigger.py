"""PostgreSQL refuses UPDATE, DELETE and TRUNCATE on audit rows.

Only a transaction that sets `obsportal.audit_mutation` locally may change them:
the door kept for the retention service (not built yet). The flag guards against
mistakes, not attackers; anyone who can set it can also drop the trigger.
Tampering around this, by a superuser who drops the trigger, is what the hash
chain and signed checkpoints expose.
"""

from django.db import migrations

CREATE = """
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

CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON ingest_auditevent
    FOR EACH ROW EXECUTE FUNCTION obsportal_refuse_audit_mutation();
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON ingest_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION obsportal_refuse_audit_mutation();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON ingest_auditevent;
DROP TRIGGER IF EXISTS audit_event_append_only ON ingest_auditevent;
DROP FUNCTION IF EXISTS obsportal_refuse_audit_mutation();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
