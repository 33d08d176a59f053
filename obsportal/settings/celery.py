"""Celery: the broker and its delivery guarantees, the queues, and beat's schedule.
Without a broker, tasks run in process (embedded mode)."""

from __future__ import annotations

import os

from obsportal.settings.portal import OBSPORTAL_CHECKPOINT_INTERVAL

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Shippers send batches with their own serializer (agents_sdk.shipping.wire): the one that
# compresses, and the one of earlier SDKs (kombu's zstd beside it).
CELERY_ACCEPT_CONTENT = ["json", "agents-sdk-json", "agents-sdk-json-zstd"]
CELERY_RESULT_EXPIRES = 3600
# No loss: a task is acknowledged after it ran, requeued if its worker dies,
# and a worker holds one unacknowledged message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers an unacknowledged message after the visibility timeout. It only
# matters when a whole worker dies (a killed pool child is requeued at once by its
# parent): an ingest batch takes well under a second and the shipper resends after
# its own result timeout (30 s), so 5 minutes costs nothing in loss, only a late
# no-op redelivery. It must exceed the longest task (the retention job is chunked),
# or a slow task is delivered twice (harmless for ingest, which is idempotent).
# Any live worker sweeps for such expired messages every 10 s (kombu's default sweep
# is 10 s x throttle 10 = 100 s), so a dead worker's batch is back within ~310 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300")),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# Keep reconnecting to a broker that went away instead of giving up after 100 tries.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ROUTES = {
    "obsportal.ingest.*": {"queue": "ingest"},
    # Bundles of millions of events take minutes: their own queue keeps beat's jobs moving.
    "obsportal.integrity.tasks.build_evidence_export": {"queue": "exports"},
    "obsportal.events.tasks.build_event_export": {"queue": "exports"},
    "obsportal.compliance.tasks.build_subject_export": {"queue": "exports"},
    "obsportal.compliance.reports.tasks.build_report": {"queue": "exports"},
}
# Celery's Django fixup closes the database connection around every task unless told
# to reuse it: a new PostgreSQL backend (fork, authentication, the catalog caches of
# the audit table, its partitions and their indexes) per ingest batch. Reuse one for 1,000
# tasks (a million events; at 50, a cold backend took over every 50,000 events);
# obsportal.celery still drops a connection that broke (PostgreSQL restarted).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE = {
    "sign-checkpoint": {
        "task": "obsportal.integrity.tasks.sign_checkpoint",
        "schedule": OBSPORTAL_CHECKPOINT_INTERVAL or 600.0,
    },
    "verify-streams": {
        "task": "obsportal.integrity.tasks.verify_streams",
        "schedule": float(os.environ.get("OBSPORTAL_VERIFY_INTERVAL", 3600)),
    },
}

# Beat reads its schedules from the database (django-celery-beat): an administrator edits
# them in the admin. The entries above are installed there when beat starts; the embedded
# portal (no broker, no beat) keeps the in-process demo schedule.
CELERY_BEAT_SCHEDULER = os.environ.get(
    "CELERY_BEAT_SCHEDULER", "django_celery_beat.schedulers:DatabaseScheduler"
)
# Month partitions of the audit table, created ahead (a no-op on SQLite and once created).
CELERY_BEAT_SCHEDULE["ingest-partitions-ahead"] = {
    "task": "obsportal.ingest.tasks.create_partitions_ahead",
    "schedule": float(os.environ.get("OBSPORTAL_PARTITIONS_INTERVAL", 86400)),
}
# Trail journals whose process died before their database copy caught up (trail.recovery).
CELERY_BEAT_SCHEDULE["trail-recover"] = {
    "task": "obsportal.trail.tasks.recover_trail",
    "schedule": float(os.environ.get("OBSPORTAL_TRAIL_RECOVER_INTERVAL", 300)),
}
CELERY_BEAT_SCHEDULE["retention-run-approved-plans"] = {
    "task": "obsportal.retention.tasks.run_approved_plans",
    "schedule": float(os.environ.get("OBSPORTAL_RETENTION_INTERVAL", 3600)),
}
CELERY_BEAT_SCHEDULE["retention-propose-plan"] = {
    "task": "obsportal.retention.tasks.propose_plan",
    "schedule": float(os.environ.get("OBSPORTAL_RETENTION_PROPOSE_INTERVAL", 86400)),
}  # Scheduled reports (monthly, quarterly) are queued by a daily look at what period has ended.
CELERY_BEAT_SCHEDULE["report-schedules"] = {
    "task": "obsportal.compliance.reports.tasks.run_due_schedules",
    "schedule": float(os.environ.get("OBSPORTAL_REPORT_SCHEDULE_INTERVAL", 3600)),
}
