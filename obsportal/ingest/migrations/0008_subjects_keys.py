"""Subject keys on audit rows and sidecars (helper `subjects`; renumber freely).

The columns are not hashed; they say whom a row is about (obsportal.ingest.subjects).
The append-only trigger refuses any UPDATE of the application's role, so older rows get
their keys through one more narrow door: `obsportal_fill_subject_keys`, a SECURITY
DEFINER function of the owner role that only fills keys that are still NULL, so that
it can neither re-point a row at another person nor touch a hashed column.
"""

from django.db import migrations, models

OWNER = "obsportal_audit_owner"


def _door_sql(schema: str) -> str:
    return f"""
GRANT UPDATE (subject_key) ON ingest_auditevent, ingest_personaldatum TO {OWNER};

CREATE FUNCTION obsportal_fill_subject_keys(
    p_events bigint[], p_keys text[], p_sidecars bigint[], p_sidecar_keys text[]
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema} AS $$
DECLARE filled bigint; more bigint;
BEGIN
    UPDATE ingest_auditevent e SET subject_key = k.key
        FROM unnest(p_events, p_keys) AS k(id, key)
        WHERE e.id = k.id AND e.subject_key IS NULL AND k.key IS NOT NULL;
    GET DIAGNOSTICS filled = ROW_COUNT;
    UPDATE ingest_personaldatum d SET subject_key = k.key
        FROM unnest(p_sidecars, p_sidecar_keys) AS k(id, key)
        WHERE d.id = k.id AND d.subject_key IS NULL AND k.key IS NOT NULL;
    GET DIAGNOSTICS more = ROW_COUNT;
    RETURN filled + more;
END $$;

ALTER FUNCTION obsportal_fill_subject_keys(bigint[], text[], bigint[], text[]) OWNER TO {OWNER};
REVOKE ALL ON FUNCTION obsportal_fill_subject_keys(bigint[], text[], bigint[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION obsportal_fill_subject_keys(bigint[], text[], bigint[], text[])
    TO CURRENT_USER;
"""


UNDO = f"""
DROP FUNCTION IF EXISTS obsportal_fill_subject_keys(bigint[], text[], bigint[], text[]);
REVOKE UPDATE (subject_key) ON ingest_auditevent, ingest_personaldatum FROM {OWNER};
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        [schema] = cursor.fetchone()
    schema_editor.execute(_door_sql(schema))


def undo(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO)


class Migration(migrations.Migration):
    dependencies = [("ingest", "0007_stalled_streams")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="subject_key",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AddField(
            model_name="personaldatum",
            name="subject_key",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("subject_key__isnull", False)),
                fields=["subject_key", "ts", "id"],
                name="audit_subject_ts",
            ),
        ),
        migrations.AddIndex(
            model_name="personaldatum",
            index=models.Index(
                condition=models.Q(("subject_key__isnull", False)),
                fields=["subject_key", "event"],
                name="personal_datum_subject",
            ),
        ),
        migrations.RunPython(create, undo),
    ]
