from django.apps import AppConfig


class TrailConfig(AppConfig):
    name = "obsportal.trail"
    label = "trail"
    verbose_name = "The portal's own audit trail"

    def ready(self) -> None:
        from obsportal.trail import receivers  # noqa: F401 - connects the login signals
