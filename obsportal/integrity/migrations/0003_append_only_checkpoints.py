"""Checkpoints are append-only like audit rows (see ingest 0005, "the database door").

Deleting or editing a checkpoint is what the checkpoint chain exposes; this makes
the application's own role unable to try.
"""

from django.db import migrations

TABLES = ("integrity_checkpoint", "integrity_checkpointhead", "integrity_checkpointincident")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION obsportal_refuse_audit_mutation();"
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION obsportal_refuse_audit_mutation();"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};"
        )


class Migration(migrations.Migration):
    dependencies = [("integrity", "0002_checkpoint_chain"), ("ingest", "0005_audit_door")]
    operations = [migrations.RunPython(create, drop)]
