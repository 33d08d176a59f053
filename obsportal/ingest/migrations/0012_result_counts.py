from django.db import migrations, models


def sum_event_counts(apps, schema_editor):
    """ResultCount of the counts already kept: EventCount summed over actions (portable:
    the embedded SQLite demo too). Admission keeps both from here on."""
    from django.db.models import Sum

    EventCount = apps.get_model("ingest", "EventCount")
    ResultCount = apps.get_model("ingest", "ResultCount")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "INSERT INTO ingest_resultcount (hour, agent_id, result, count)"
            " SELECT hour, agent_id, result, sum(count) FROM ingest_eventcount GROUP BY 1, 2, 3"
        )
        schema_editor.execute("ANALYZE ingest_resultcount")
        return
    rows = EventCount.objects.values("hour", "agent_id", "result").annotate(n=Sum("count"))
    ResultCount.objects.bulk_create(
        (
            ResultCount(hour=r["hour"], agent_id=r["agent_id"], result=r["result"], count=r["n"])
            for r in rows.order_by().iterator()
        ),
        batch_size=5000,
    )


def carry_the_count(apps, schema_editor):
    """On PostgreSQL the same unique key, with the count in its index (INCLUDE): the
    overview's sums are an index-only scan. SQLite has no such index; the key stays plain."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE ingest_resultcount DROP CONSTRAINT result_count_key,"
        " ADD CONSTRAINT result_count_key UNIQUE (hour, agent_id, result) INCLUDE (count)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0011_merge_20261201_2344"),
    ]

    operations = [
        migrations.CreateModel(
            name="ResultCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField()),
                ("agent_id", models.CharField(max_length=200)),
                ("result", models.CharField(max_length=16)),
                ("count", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("hour", "agent_id", "result"), name="result_count_key"
                    )
                ],
            },
        ),
        migrations.RunPython(carry_the_count, migrations.RunPython.noop),
        migrations.RunPython(sum_event_counts, migrations.RunPython.noop),
    ]
