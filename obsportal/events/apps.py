from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "obsportal.events"
    label = "events"
    verbose_name = "Audit events: search and read"
