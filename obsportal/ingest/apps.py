from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "obsportal.ingest"
    label = "ingest"
    verbose_name = "Audit event ingestion"

    def ready(self) -> None:
        # Register the tasks with the Celery app in every process, not only in
        # workers: the embedded mode runs them in process.
        from obsportal.ingest import tasks  # noqa: F401
        from obsportal.ingest.collectors import StreamsCollector
        from obsportal.telemetry.collectors import register_scrape_collector

        register_scrape_collector(StreamsCollector())
