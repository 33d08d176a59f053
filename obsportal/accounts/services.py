"""What changes who may do what: people's roles and accounts, agents' ingest credentials.

Each change is one transaction; the trail records it inside that transaction
(the trail app's `record_trail`), so a change that cannot be recorded is not made.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from agents_sdk.audit.chain import IDENTIFIER
from obsportal.accounts.models import AgentCredential, RoleAssignment
from obsportal.accounts.permissions import forget_access
from obsportal.accounts.roles import SCOPABLE_ROLES, USER_ROLES, Role

TOKEN_PREFIX = "agt_"
# Ingestion refreshes a credential's last use at most this often (one UPDATE, not one a batch).
LAST_USE_RESOLUTION = timedelta(minutes=1)
GENERATED_PASSWORD_BYTES = 18


class InvalidIngestToken(Exception):
    """The token is unknown or revoked."""


class AccountChangeRefused(Exception):
    """A role, account or credential change the rules forbid; the message says which rule."""


@dataclass(frozen=True)
class IssuedCredential:
    """A new credential and its secret: shown to its holder once, stored only as a digest."""

    credential: AgentCredential
    secret: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- agents' ingest credentials ------------------------------------------------------------


def issue_agent_credential(agent_id: str, label: str = "", by=None) -> IssuedCredential:
    """Create an ingest credential for `agent_id`; its secret is returned once, never stored."""
    if not agent_id:
        raise AccountChangeRefused("an ingest credential needs the agent it writes for")
    if not IDENTIFIER.match(agent_id):
        # Its events could not carry it: envelope v1's identifier charset.
        raise AccountChangeRefused(
            f"agent id {agent_id[:40]!r} must be 1-200 of A-Z a-z 0-9 . _ : @ + - "
            "(no '/', no space)"
        )
    if agent_id == settings.OBSPORTAL_TRAIL_AGENT_ID:
        # Only the portal writes its own trail; a credential for it could forge that record.
        raise AccountChangeRefused(f"{agent_id!r} is the portal's own trail: no agent writes it")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        credential = AgentCredential.objects.create(
            agent_id=agent_id, token_digest=_digest(secret), label=label, created_by=by
        )
        _record(by, "credential.issue", credential, {"agent_id": agent_id, "label": label})
    return IssuedCredential(credential, secret)


def credential_key(token: str) -> str:
    """A stable, non-secret name of an ingest token (for its rate counters)."""
    return _digest(token)[:24]


def issue_agent_token(agent_id: str, label: str = "") -> str:
    """The secret of a new credential for `agent_id` (the command line's and the tests' way)."""
    return issue_agent_credential(agent_id, label).secret


def revoke_agent_credential(credential: AgentCredential, by=None) -> AgentCredential:
    with transaction.atomic():
        locked = AgentCredential.objects.select_for_update().get(pk=credential.pk)
        if locked.revoked_at is not None:
            raise AccountChangeRefused(f"credential {locked.pk} was already revoked")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        _record(by, "credential.revoke", locked, {"agent_id": locked.agent_id})
    return locked


def rotate_agent_credential(credential: AgentCredential, by=None) -> IssuedCredential:
    """Revoke `credential` and issue its successor (same agent and label) in one step."""
    with transaction.atomic():
        revoked = revoke_agent_credential(credential, by)
        issued = issue_agent_credential(revoked.agent_id, revoked.label, by)
        _record(
            by,
            "credential.rotate",
            issued.credential,
            {"agent_id": revoked.agent_id, "replaces": revoked.pk},
        )
    return issued


def revoke_agent_tokens(agent_id: str) -> int:
    return AgentCredential.objects.filter(agent_id=agent_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def agent_for_token(token: str | None) -> str:
    """The agent_id a live token belongs to (and its last use noted, once a minute at most)."""
    return credential_for_token(token)[1]


def credential_for_token(token: str | None) -> tuple[int, str]:
    """(credential pk, agent_id) of a live token, its last use noted as `agent_for_token`."""
    if not token or not isinstance(token, str):
        raise InvalidIngestToken("no ingest token was given")
    row = (
        AgentCredential.objects.filter(token_digest=_digest(token), revoked_at__isnull=True)
        .values_list("pk", "agent_id", "last_used_at")
        .first()
    )
    if row is None:
        raise InvalidIngestToken("the ingest token is unknown or revoked")
    pk, agent_id, last_used_at = row
    now = timezone.now()
    if last_used_at is None or now - last_used_at >= LAST_USE_RESOLUTION:
        AgentCredential.objects.filter(pk=pk).update(last_used_at=now)
    return pk, agent_id


# -- people: accounts and roles ------------------------------------------------------------


def assign_role(
    user,
    role: Role | str,
    *,
    by=None,
    scope_agents: list[str] | tuple[str, ...] = (),
    scope_since: datetime | None = None,
    scope_until: datetime | None = None,
    expires_at: datetime | None = None,
    via: str | None = None,
) -> RoleAssignment:
    """Give `user` its one role (replacing any other), with an auditor's optional scope."""
    role = Role(role)
    if role not in USER_ROLES:
        raise AccountChangeRefused(f"a person cannot hold the {role.label} role")
    scoped = bool(scope_agents) or scope_since is not None or scope_until is not None
    if scoped and role not in SCOPABLE_ROLES:
        raise AccountChangeRefused(f"only an auditor's role can be scoped, not {role.label}'s")
    if scope_since and scope_until and scope_since >= scope_until:
        raise AccountChangeRefused("the scope's period must end after it begins")
    if by is not None and by.pk == user.pk:
        raise AccountChangeRefused("nobody changes their own role")
    with transaction.atomic():
        previous = RoleAssignment.objects.select_for_update().filter(user=user).first()
        if previous and previous.role == Role.ADMINISTRATOR and role != Role.ADMINISTRATOR:
            _keep_an_administrator(excluding=user)
        assignment, _ = RoleAssignment.objects.update_or_create(
            user=user,
            defaults={
                "role": role.value,
                "scope_agents": sorted(set(scope_agents)),
                "scope_since": scope_since,
                "scope_until": scope_until,
                "expires_at": expires_at,
                "granted_by": by,
            },
        )
        _record(
            by,
            "role.assign",
            user,
            {
                "role": role.value,
                "previous_role": previous.role if previous else None,
                "scope_agents": assignment.scope_agents,
                "scope_since": _iso(scope_since),
                "scope_until": _iso(scope_until),
                "expires_at": _iso(expires_at),
            },
            via=via,
        )
    forget_access(user)
    return assignment


def create_portal_user(
    username: str,
    role: Role | str,
    *,
    by=None,
    email: str = "",
    password: str | None = None,
    **scope,
) -> tuple[object, str | None]:
    """A new person with `role`. Without `password` one is generated and returned (once)."""
    User = get_user_model()
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    candidate = User(username=username, email=email)
    validate_password(password, candidate)
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise AccountChangeRefused(f"there is already a user {username!r}")
        user = User.objects.create_user(username, email=email, password=password)
        _record(by, "user.create", user, {"username": username})
        assign_role(user, role, by=by, **scope)
    return user, generated


def deactivate_user(user, by=None) -> None:
    """Close an account: it can no longer log in, and its sessions and tokens stop working
    (Django and DRF refuse an inactive user on every request)."""
    if by is not None and by.pk == user.pk:
        raise AccountChangeRefused("nobody deactivates their own account")
    with transaction.atomic():
        User = get_user_model()
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_active:
            raise AccountChangeRefused(f"{locked.username} is already deactivated")
        if RoleAssignment.objects.filter(user=locked, role=Role.ADMINISTRATOR).exists():
            _keep_an_administrator(excluding=locked)
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        _record(by, "user.deactivate", locked, {"username": locked.username})
    user.is_active = False
    forget_access(user)


def reactivate_user(user, by=None) -> None:
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(is_active=True)
        _record(by, "user.reactivate", user, {"username": user.username})
    user.is_active = True
    forget_access(user)


def _keep_an_administrator(excluding) -> None:
    others = RoleAssignment.objects.filter(role=Role.ADMINISTRATOR, user__is_active=True).exclude(
        user=excluding
    )
    if not others.exists():
        raise AccountChangeRefused("the portal must keep at least one active administrator")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# The portal's trail records every change here. It registers itself from its ready()
# (`register_change_recorder`): accounts, on the ground floor, imports no product app.
ChangeRecorder = Callable[[Any, str, Any, dict], None]
_change_recorder: ChangeRecorder | None = None


def register_change_recorder(recorder: ChangeRecorder) -> None:
    global _change_recorder
    _change_recorder = recorder


def _record(actor, action: str, target, details: dict, via: str | None = None) -> None:
    """The change on the portal's trail, in the caller's transaction; none without a trail.
    `via` says how an actor-less change came (single sign-on; else the command line)."""
    if _change_recorder is None:
        raise AccountChangeRefused(f"no trail records account changes: {action} refused")
    _change_recorder(actor, action, target, {**details, "via": via} if via else details)


# -- people's REST API tokens ------------------------------------------------------------------


def issue_api_token(user, ttl: timedelta | None = None) -> str:
    """A REST API token for `user` (`Authorization: Token <key>`), returned once.

    knox stores only its SHA-512 digest; it expires after `ttl` (default
    OBSPORTAL_API_TOKEN_DAYS).
    """
    from knox.models import AuthToken

    if ttl is None:
        _, token = AuthToken.objects.create(user=user)
    else:
        _, token = AuthToken.objects.create(user=user, expiry=ttl)
    return token


def record_portal_change(
    actor, action: str, target, details: dict, personal: dict | None = None
) -> None:
    """A change (or a job requested) by apps above the trail's floor, on the trail through
    the registered recorder, in the caller's transaction; `personal` goes to its sidecar.
    Refused when no trail records changes: what cannot be recorded is not done."""
    if _change_recorder is None:
        raise AccountChangeRefused(f"no trail records changes: {action} refused")
    if personal:
        _change_recorder(actor, action, target, details, personal=personal)
    else:
        _change_recorder(actor, action, target, details)
