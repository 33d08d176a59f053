from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "obsportal.ingest"
    label = "ingest"
    verbose_name = "Audit event ingestion"

    def ready(self) -> None:
        # Register the tasks with the Celery app in every process, not only in
        # workers: the embedded mode runs them in process.
        from obsportal.ingest import tasks  # noqa: F401
