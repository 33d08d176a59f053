from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "obsportal.portal"
    label = "portal"
    verbose_name = "Compliance portal pages"
