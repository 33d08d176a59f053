"""Who may do what: agents' ingest credentials and people's role assignments."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from obsportal.accounts.roles import USER_ROLES


class AgentCredential(models.Model):
    """An agent's ingest token, stored only as its SHA-256 digest."""

    agent_id = models.CharField(max_length=200, db_index=True)
    token_digest = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Refreshed at most once a minute by ingestion (see services.agent_for_token).
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"ingest credential for {self.agent_id}"


class RoleAssignment(models.Model):
    """A person's one role; an auditor's may be scoped to agents and a period, and expire.

    An external auditor's engagement is the usual case: the agents in scope, the
    period under audit, and the day the engagement ends.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignment"
    )
    role = models.CharField(max_length=32, choices=[(r.value, r.label) for r in USER_ROLES])
    # Empty: every agent. Otherwise only these agents' events and streams.
    scope_agents = models.JSONField(default=list, blank=True)
    scope_since = models.DateTimeField(null=True, blank=True)
    scope_until = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    granted_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} as {self.role}"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def is_scoped(self) -> bool:
        return (
            bool(self.scope_agents) or self.scope_since is not None or self.scope_until is not None
        )
