from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "obsportal.retention"
    label = "retention"
    verbose_name = "Retention: policies, legal holds, plans and runs"

    def ready(self) -> None:
        from obsportal.retention import collectors
        from obsportal.retention.services.trail import register_trail_recorder
        from obsportal.trail.services import record_trail

        register_trail_recorder(record_trail)
        collectors.register()

    def overview_status(self) -> dict:
        """What the portal's overview shows of retention (it never imports this app)."""
        from obsportal.retention.overview import overview_status

        return overview_status()
