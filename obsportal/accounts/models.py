"""Agent ingest credentials: each token may write only its own agent's streams."""

from __future__ import annotations

from django.db import models


class AgentCredential(models.Model):
    """An agent's ingest token, stored only as its SHA-256 digest."""

    agent_id = models.CharField(max_length=200, db_index=True)
    token_digest = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ingest credential for {self.agent_id}"
