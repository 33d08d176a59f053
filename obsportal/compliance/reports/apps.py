from django.apps import AppConfig


class ReportsConfig(AppConfig):
    # Its own app (label `compliance_reports`) inside `obsportal.compliance`, so that the
    # subject-request models of `obsportal.compliance` keep their own migrations.
    name = "obsportal.compliance.reports"
    label = "compliance_reports"
    verbose_name = "Compliance reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from obsportal.compliance.reports import collectors, receivers  # noqa: F401 - receivers: the trail

        collectors.register()
