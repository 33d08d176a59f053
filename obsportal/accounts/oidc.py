"""Single sign-on (OIDC, mozilla-django-oidc): a claim of the provider names the role.

Local accounts stay for the first administrator and for scripts; an OIDC login
never takes one over (a user with a usable password is not matched by name). The
role is set from the claim at every login, so a change at the provider takes effect
at the next sign-in; a person whose claim maps to no role is refused.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from obsportal.accounts.permissions import public
from obsportal.accounts.roles import Role
from obsportal.accounts.services import assign_role

# When several groups match, the one with the most rights wins: a person in both the
# auditors' and the officers' group at the provider is an officer here.
PRECEDENCE = (Role.ADMINISTRATOR, Role.COMPLIANCE_OFFICER, Role.AUDITOR)


def role_from_claims(claims: dict[str, Any]) -> Role | None:
    """The role that OBSPORTAL_OIDC_ROLE_MAP gives the values of the role claim, if any."""
    values = claims.get(settings.OBSPORTAL_OIDC_ROLE_CLAIM) or []
    if isinstance(values, str):
        values = [values]
    mapped = {settings.OBSPORTAL_OIDC_ROLE_MAP.get(str(value)) for value in values}
    return next((role for role in PRECEDENCE if role.value in mapped), None)


class RoleClaimBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub")) and role_from_claims(claims) is not None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        # mozilla-django-oidc leaves the audience and issuer unchecked; a token minted by
        # the provider for another client (or by another provider) must not sign in here.
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the ID token was issued for another client")
        issuer = settings.OBSPORTAL_OIDC_ISSUER
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("the ID token was issued by another provider")
        return payload

    def filter_users_by_claims(self, claims: dict[str, Any]):
        # Only accounts made by single sign-on (no usable password) match by name.
        matches = self.UserModel.objects.filter(username=self.get_username(claims))
        return [user for user in matches if not user.has_usable_password()]

    def get_username(self, claims: dict[str, Any]) -> str:
        return str(claims.get("preferred_username") or claims["sub"])[:150]

    def create_user(self, claims: dict[str, Any]):
        username = self.get_username(claims)
        if self.UserModel.objects.filter(username=username).exists():
            raise SuspiciousOperation(f"{username!r} is a local account; it cannot sign in by SSO")
        with transaction.atomic():
            user = self.UserModel.objects.create_user(username, email=claims.get("email", ""))
            user.set_unusable_password()
            user.save(update_fields=["password"])
            return self.update_user(user, claims)

    def update_user(self, user, claims: dict[str, Any]):
        role = role_from_claims(claims)
        current = getattr(getattr(user, "role_assignment", None), "role", None)
        if role is not None and current != role.value:
            assign_role(user, role, via="single sign-on")
        return user


class _WhenEnabled:
    """The SSO routes exist only when a client is configured (else 404, not a broken redirect)."""

    def dispatch(self, request, *args, **kwargs):
        if not settings.OBSPORTAL_OIDC_ENABLED:
            raise Http404("single sign-on is not configured")
        return super().dispatch(request, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if settings.OBSPORTAL_OIDC_ENABLED:
            super().__init__(*args, **kwargs)


@public("starts single sign-on: a redirect to the identity provider")
class SignOnStart(_WhenEnabled, OIDCAuthenticationRequestView):
    pass


@public("the identity provider's redirect back; the login signals record its outcome")
class SignOnCallback(_WhenEnabled, OIDCAuthenticationCallbackView):
    pass
