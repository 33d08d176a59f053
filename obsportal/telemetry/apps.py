from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "obsportal.telemetry"
    label = "telemetry"

    def ready(self) -> None:
        from obsportal.telemetry import tracing, worker

        # A Celery worker configures tracing in each pool process after the fork
        # (gRPC channels do not survive a fork); every other process does it here,
        # before Django builds its middleware chain.
        if not worker.in_celery_worker():
            tracing.configure_tracing("obsportal-web")
