"""The menu: each entry with the capability it needs, so a role sees only what it may open."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from obsportal.accounts.permissions import access_of
from obsportal.accounts.roles import Capability


@dataclass(frozen=True)
class MenuEntry:
    label: str
    url_name: str
    capability: Capability
    query: str = ""


MENU = (
    MenuEntry("Overview", "portal:overview", Capability.EVENTS_READ),
    MenuEntry("Events", "portal:events", Capability.EVENTS_READ),
    MenuEntry("Streams", "integrity:streams", Capability.STREAMS_READ),
    MenuEntry("Incidents", "integrity:incidents", Capability.STREAMS_READ),
    MenuEntry("Checkpoints", "integrity:checkpoints", Capability.STREAMS_READ),
    MenuEntry("Dead letters", "integrity:dead-letters", Capability.STREAMS_READ),
    MenuEntry("Evidence", "integrity:evidence", Capability.EVIDENCE_EXPORT),
    MenuEntry("Trail", "portal:trail", Capability.TRAIL_READ),
    MenuEntry("Retention", "retention:overview", Capability.RETENTION_READ),
    MenuEntry("Subject requests", "portal:subjects", Capability.SUBJECTS_READ),
    MenuEntry("Reports", "reports:list", Capability.REPORTS_RUN),
    MenuEntry("Users", "people:users", Capability.USERS_MANAGE),
    MenuEntry("Agent credentials", "people:credentials", Capability.CREDENTIALS_MANAGE),
    MenuEntry("API", "schema-docs", Capability.API_SCHEMA),
)


def menu_for(request: HttpRequest) -> list[dict[str, str]]:
    access = access_of(getattr(request, "user", None))
    return [
        {"label": entry.label, "url": reverse(entry.url_name) + entry.query}
        for entry in MENU
        if access.can(entry.capability)
    ]


def navigation(request: HttpRequest) -> dict:
    """Context processor: the signed-in person's menu and role."""
    access = access_of(getattr(request, "user", None))
    return {
        "menu": menu_for(request),
        "portal_role": access.role.label if access.role else None,
        "sso_enabled": settings.OBSPORTAL_OIDC_ENABLED,
    }
