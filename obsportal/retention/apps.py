from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "obsportal.retention"
    label = "retention"
    verbose_name = "Retention: policies, legal holds, plans and runs"
