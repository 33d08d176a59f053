"""The Celery application: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "obsportal.settings")

app = Celery("obsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

import obsportal.telemetry.worker  # noqa: E402,F401 - metrics exposition and tracing hooks
