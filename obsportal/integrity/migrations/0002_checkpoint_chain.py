"""Checkpoints form a chain: a number and the predecessor's note hash; signing incidents."""

import hashlib

from django.db import migrations, models


def number_existing(apps, schema_editor):
    """Checkpoints signed before the chain: numbered in id order, linked to their predecessor."""
    Checkpoint = apps.get_model("integrity", "Checkpoint")
    previous = "0" * 64
    for number, checkpoint in enumerate(Checkpoint.objects.order_by("id"), start=1):
        checkpoint.number, checkpoint.previous_hash = number, previous
        checkpoint.save(update_fields=["number", "previous_hash"])
        previous = hashlib.sha256(checkpoint.note.encode()).hexdigest()


class Migration(migrations.Migration):
    dependencies = [("integrity", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="checkpoint",
            name="number",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="checkpoint",
            name="previous_hash",
            field=models.CharField(default="0" * 64, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="checkpoint",
            name="number",
            field=models.BigIntegerField(unique=True),
        ),
        migrations.CreateModel(
            name="CheckpointIncident",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("detected_at", models.DateTimeField(auto_now_add=True)),
                ("checkpoint_number", models.BigIntegerField()),
                ("kind", models.CharField(choices=[("predecessor_missing", "predecessor missing"), ("predecessor_differs", "predecessor differs")], max_length=32)),
                ("reason", models.TextField()),
            ],
            options={"ordering": ["-id"]},
        ),
    ]
