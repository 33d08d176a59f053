"""The append-only guard of audit rows and sidecars fires once a statement, not once a row.

The same function and the same refusal (0005): an UPDATE or DELETE by any role but the
owner role (or a flagged superuser) is refused before it touches a row. As a row
trigger it cost ~20-80 µs for every row the retention door removed, which capped
pruning far below 50,000 events/s (benchmarks/retention.py); a statement trigger
refuses the same statements at a cost of one call each.
"""

from django.db import migrations

TABLES = {"ingest_auditevent": "audit_event", "ingest_personaldatum": "personal_datum"}


def _swap(each: str) -> str:
    return "".join(
        f"""
DROP TRIGGER IF EXISTS {name}_append_only ON {table};
CREATE TRIGGER {name}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH {each} EXECUTE FUNCTION obsportal_refuse_audit_mutation();
"""
        for table, name in TABLES.items()
    )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_swap("STATEMENT"))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_swap("ROW"))


class Migration(migrations.Migration):
    dependencies = [("ingest", "0007_stalled_streams")]
    operations = [migrations.RunPython(forward, backward)]
