from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "obsportal.demo"
    label = "demo"
    verbose_name = "First-run demo: a scripted agent and its setup command"
