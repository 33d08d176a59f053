from django.apps import AppConfig


class TrailConfig(AppConfig):
    name = "obsportal.trail"
    label = "trail"
    verbose_name = "The portal's own audit trail"

    def ready(self) -> None:
        from obsportal.accounts.services import register_change_recorder
        from obsportal.trail import receivers  # noqa: F401 - connects the login signals
        from obsportal.trail.services import record_change

        register_change_recorder(record_change)
