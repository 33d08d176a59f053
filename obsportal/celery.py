"""The Celery application: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery, signals

from agents_sdk.shipping.wire import register_serializer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "obsportal.settings")

register_serializer()  # before the consumer resolves CELERY_ACCEPT_CONTENT
app = Celery("obsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_postrun.connect
def _store_the_tasks_trail(**_: object) -> None:
    """The trail events a task recorded are in the database before its result is: a
    verification run's outcome is on the trail page when the run is."""
    from obsportal.trail.services import flush_trail

    flush_trail()


@signals.worker_process_shutdown.connect
def _close_the_trail(**_: object) -> None:
    from obsportal.trail.services import reset_process_trail

    reset_process_trail()


@signals.task_postrun.connect
def _drop_broken_connections(**_: object) -> None:
    """With CELERY_DB_REUSE_MAX the fixup keeps connections: still replace a broken one."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


import obsportal.telemetry.worker  # noqa: E402,F401 - metrics exposition and tracing hooks
