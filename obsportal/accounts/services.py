"""Issuing and checking agent ingest tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from obsportal.accounts.models import AgentCredential

TOKEN_PREFIX = "agt_"


class InvalidIngestToken(Exception):
    """The token is unknown or revoked."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_agent_token(agent_id: str, label: str = "") -> str:
    """Create an ingest credential for `agent_id`; the token is returned once, never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    AgentCredential.objects.create(agent_id=agent_id, token_digest=_digest(token), label=label)
    return token


def agent_for_token(token: str | None) -> str:
    """The agent_id a live token belongs to."""
    if not token or not isinstance(token, str):
        raise InvalidIngestToken("no ingest token was given")
    credential = (
        AgentCredential.objects.filter(token_digest=_digest(token), revoked_at__isnull=True)
        .only("agent_id")
        .first()
    )
    if credential is None:
        raise InvalidIngestToken("the ingest token is unknown or revoked")
    return credential.agent_id


def revoke_agent_tokens(agent_id: str) -> int:
    return AgentCredential.objects.filter(agent_id=agent_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
