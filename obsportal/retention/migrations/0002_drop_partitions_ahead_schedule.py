"""Beat's database scheduler installs CELERY_BEAT_SCHEDULE's entries but never removes one:
drop the row of the removed no-op `retention-partitions-ahead` job, or beat would keep
sending a task no worker knows."""

from django.db import migrations


def drop_entry(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name="retention-partitions-ahead").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0001_initial"),
        ("django_celery_beat", "0001_initial"),
    ]

    operations = [migrations.RunPython(drop_entry, migrations.RunPython.noop)]
