from django.apps import AppConfig


class IntegrityConfig(AppConfig):
    name = "obsportal.integrity"
    label = "integrity"
    verbose_name = "Integrity: verification, checkpoints, evidence"
