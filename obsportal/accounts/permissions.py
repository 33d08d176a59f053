"""The two doors every endpoint goes through: `HasCapability` (API) and `capability_required`
(pages). Both read ROLE_CAPABILITIES; an endpoint that declares nothing is refused.

A view declares `required_capability` (a Capability, or a dict from HTTP method to
Capability), or is marked `public(...)` with the reason it needs no role. The
URLconf test walks every route and fails on any that does neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.permissions import BasePermission

from obsportal.accounts.roles import Capability, Role, capabilities_of
from obsportal.accounts.scope import EVERYTHING, NOTHING, AccessScope

# Marks an endpoint that needs no role; its `public_reason` says why.
PUBLIC = "public"
_CACHE = "_obsportal_access"


class Access:
    """A person's role, capabilities and scope, looked up once per request."""

    __slots__ = ("role", "capabilities", "scope")

    def __init__(self, role: Role | None, scope: AccessScope) -> None:
        self.role = role
        self.capabilities = capabilities_of(role)
        self.scope = scope

    def can(self, capability: Capability | str) -> bool:
        return capability in self.capabilities


NO_ACCESS = Access(None, NOTHING)


def access_of(user: Any) -> Access:
    """The user's live access: none when anonymous, inactive, unassigned or expired."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_ACCESS
    cached = getattr(user, _CACHE, None)
    if cached is not None:
        return cached
    from obsportal.accounts.models import RoleAssignment

    assignment = RoleAssignment.objects.filter(user_id=user.pk).first()
    if assignment is None or assignment.is_expired(timezone.now()):
        access = NO_ACCESS
    else:
        scope = EVERYTHING
        if assignment.is_scoped:
            scope = AccessScope(
                agents=frozenset(assignment.scope_agents) if assignment.scope_agents else None,
                since=assignment.scope_since,
                until=assignment.scope_until,
            )
        access = Access(Role(assignment.role), scope)
    setattr(user, _CACHE, access)
    return access


def forget_access(user: Any) -> None:
    """Drop the cached access (after the user's role changed in this request)."""
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)


def has_capability(user: Any, capability: Capability | str) -> bool:
    return access_of(user).can(capability)


def scope_of(user: Any) -> AccessScope:
    return access_of(user).scope


def declared_capability(view: Any, method: str) -> Capability | str | None:
    """What `view` (a function, a DRF/Django class, or an instance) declares for `method`."""
    declared = getattr(view, "required_capability", None)
    if declared is None and hasattr(view, "view_class"):
        declared = getattr(view.view_class, "required_capability", None)
    if declared is None and hasattr(view, "cls"):
        declared = getattr(view.cls, "required_capability", None)
    if isinstance(declared, dict):
        return declared.get(method.upper())
    return declared


class HasCapability(BasePermission):
    """DRF's door: the view's declared capability, held by the caller's role; else refused."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        declared = declared_capability(view, request.method)
        if declared is None:
            return False  # deny by default: the view declared nothing for this method
        if declared == PUBLIC:
            return True
        return has_capability(request.user, declared)


def capability_required(capability: Capability) -> Callable:
    """The pages' door: log in first, then the role must hold `capability` (else 403)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                raise PermissionDenied(f"Your role does not allow {capability}.")
            return view(request, *args, **kwargs)

        guarded.required_capability = capability
        return guarded

    return decorator


def public(reason: str) -> Callable:
    """Mark a view that needs no role (a probe, the login page), saying why."""

    def decorator(view: Any) -> Any:
        view.required_capability = PUBLIC
        view.public_reason = reason
        return view

    return decorator


# -- object scope: which rows a person's reads may return --------------------------------


def _trail_agent() -> str:
    return settings.OBSPORTAL_TRAIL_AGENT_ID


def visible_events(events: QuerySet, user: Any, requested_agent: str | None = None) -> QuerySet:
    """`events` narrowed to the user's scope. The portal's own trail is shown only when
    asked for by its agent id, and only to a role with trail.read: a search of agents'
    events is not mixed with the record of who searched."""
    access = access_of(user)
    events = access.scope.filter_events(events)
    if requested_agent == _trail_agent() and access.can(Capability.TRAIL_READ):
        return events
    return events.exclude(agent_id=_trail_agent())


def visible_streams(streams: QuerySet, user: Any) -> QuerySet:
    """`streams` of the user's scope's agents; the trail's only with trail.read."""
    access = access_of(user)
    streams = access.scope.filter_agents(streams)
    if access.can(Capability.TRAIL_READ):
        return streams
    return streams.exclude(agent_id=_trail_agent())


def may_read_agent(user: Any, agent_id: str) -> bool:
    access = access_of(user)
    if agent_id == _trail_agent() and not access.can(Capability.TRAIL_READ):
        return False
    return access.scope.allows_agent(agent_id)


# Routes whose views are not ours to decorate, by view name (or namespace), and why they
# need no role. The URLconf test accepts a route only if it declares a capability or is here.
PUBLIC_URLS: dict[str, str] = {
    "metrics": "the Prometheus scrape: its own bearer token, or loopback only",
    "login": "the login form",
    "logout": "ends the caller's own session",
    "password_change": "a signed-in person's own password (Django requires the login)",
    "password_change_done": "a signed-in person's own password (Django requires the login)",
    "password_reset": "Django's password reset, by mail",
    "password_reset_done": "Django's password reset, by mail",
    "password_reset_confirm": "Django's password reset, by mail",
    "password_reset_complete": "Django's password reset, by mail",
}
PUBLIC_NAMESPACES: dict[str, str] = {
    "admin": "the Django admin: staff only, with Django's own model permissions",
}
