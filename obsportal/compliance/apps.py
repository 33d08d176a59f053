from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "obsportal.compliance"
    label = "compliance"
    verbose_name = "Compliance: data-subject requests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from obsportal.compliance import collectors

        collectors.register()
