from django.apps import AppConfig


class IntegrityConfig(AppConfig):
    name = "obsportal.integrity"
    label = "integrity"
    verbose_name = "Integrity: verification, checkpoints, evidence"

    def ready(self) -> None:
        from obsportal.integrity.collectors import CheckpointAgeCollector, VerificationCollector
        from obsportal.telemetry.collectors import register_scrape_collector

        register_scrape_collector(CheckpointAgeCollector())
        register_scrape_collector(VerificationCollector())
