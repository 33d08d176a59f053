"""Beat's schedule names only tasks a worker knows: no entry outlives its task."""

from __future__ import annotations

import importlib

from django.conf import settings

from obsportal.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= set(app.tasks), scheduled - set(app.tasks)
    assert {"retention-run-approved-plans", "retention-propose-plan"} <= set(
        settings.CELERY_BEAT_SCHEDULE
    )
    # The partition stub was a no-op on a table that is not partitioned; it is gone.
    assert "retention-partitions-ahead" not in settings.CELERY_BEAT_SCHEDULE


def test_the_migration_drops_the_beat_row_of_the_removed_job(db):
    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_day = IntervalSchedule.objects.create(every=86400, period=IntervalSchedule.SECONDS)
    for name in ("retention-partitions-ahead", "retention-propose-plan"):
        PeriodicTask.objects.create(name=name, task=f"task.{name}", interval=every_day)
    migration = importlib.import_module(
        "obsportal.retention.migrations.0002_drop_partitions_ahead_schedule"
    )
    migration.drop_entry(apps, None)
    assert list(PeriodicTask.objects.values_list("name", flat=True)) == ["retention-propose-plan"]
