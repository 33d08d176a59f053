"""Data-subject requests and what each agent declares about its processing (GDPR Art. 30)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AgentDeclaration(models.Model):
    """An agent's record of processing: why it handles personal data and who receives it.

    Quoted in every access export (Art. 15(1)(a)-(c)); `retention_floor_days` with its
    `floor_source` is a statutory obligation to keep the agent's records, an exception to
    erasure (Art. 17(3)(b)) while it runs.
    """

    agent_id = models.CharField(max_length=200, unique=True)
    purposes = models.JSONField(default=list)  # ["answering support tickets", ...]
    recipients = models.JSONField(default=list)  # ["ticketing vendor (processor)", ...]
    categories = models.JSONField(default=list)  # ["contact data", "health data", ...]
    legal_basis = models.CharField(max_length=200)  # "Art. 6(1)(b) contract"
    retention_floor_days = models.PositiveIntegerField(default=0)
    floor_source = models.CharField(max_length=200, blank=True)  # "HIPAA 45 CFR 164.316(b)(2)"
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"declaration of {self.agent_id}"


class SubjectRequest(models.Model):
    """One request of a data subject: access (Art. 15), erasure (Art. 17) or an
    accounting of disclosures (HIPAA 164.528), with its legal deadline."""

    class Kind(models.TextChoices):
        ACCESS = "access", "access (GDPR Art. 15)"
        ERASURE = "erasure", "erasure (GDPR Art. 17)"
        ACCOUNTING = "accounting", "accounting of disclosures (HIPAA 164.528)"

    class Framework(models.TextChoices):
        GDPR = "gdpr", "GDPR"
        HIPAA = "hipaa", "HIPAA"

    class Status(models.TextChoices):
        RECEIVED = "received", "received"
        IN_PROGRESS = "in_progress", "in progress"
        COMPLETED = "completed", "completed"
        FAILED = "failed", "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    framework = models.CharField(max_length=8, choices=Framework.choices)
    # Whom it is about: the HMAC of the identifier (obsportal.ingest.subjects). The
    # identifier itself is kept here only, to address the export to the person; the
    # trail carries the key, never the identifier.
    subject_key = models.CharField(max_length=32, db_index=True)  # of the first identifier
    # One person may be known by several identifiers (a user id, an e-mail address):
    # `identifier` lists them (comma-separated), `subject_keys` holds each one's key.
    identifier = models.CharField(max_length=1000)
    subject_keys = models.JSONField(default=list)
    legal_ground = models.CharField(max_length=200, blank=True)  # erasure: "Art. 17(1)(a)"
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    extended_due_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    # What was done: counts, exceptions (holds, floors), the trail seq of the receipt.
    outcome = models.JSONField(default=dict)
    # access / accounting: the files built, by format ("json", "csv", "pdf") -> path
    files = models.JSONField(default=dict)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "due_at"], name="subject_request_open_due")]

    def __str__(self) -> str:
        return f"{self.kind} request {self.reference}"

    @property
    def reference(self) -> str:
        """The short name the trail and verification use: "R-" + the first 8 hex digits."""
        return f"R-{self.id.hex[:8]}"

    @property
    def deadline(self):
        return self.extended_due_at or self.due_at
