"""Retention policies, legal holds, and the approved plans and runs that prune by them.

Invariants (the services keep them, the tests check them):
- a policy takes effect only once a second person approved it (PolicyChange); the
  longest period of the policies covering an event wins, and no period is below the
  statutory floor of its framework;
- a held event (an active LegalHold covers it) is never pruned nor erased;
- a run executes one approved plan (approver != author), prunes only a stream's oldest
  contiguous range, and writes a signed prune anchor before each deletion.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Framework(models.TextChoices):
    SOC2 = "soc2", "SOC 2"
    GDPR = "gdpr", "GDPR"
    HIPAA = "hipaa", "HIPAA"
    EU_AI_ACT = "eu_ai_act", "EU AI Act"
    CUSTOM = "custom", "custom"


class RetentionPolicy(models.Model):
    """How long the events a policy covers are kept: patterns over agent, action, result.

    Patterns are shell-style (`*`, `?`, `[...]`, fnmatch); `*` matches all. The portal's
    own trail is agent `obsportal` (stream `obsportal-trail`) like any other target.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", "proposed (awaiting approval)"
        ACTIVE = "active", "active"
        RETIRED = "retired", "retired"

    name = models.CharField(max_length=200, unique=True)
    framework = models.CharField(max_length=16, choices=Framework.choices)
    description = models.TextField(blank=True)
    agent_pattern = models.CharField(max_length=200, default="*")
    action_pattern = models.CharField(max_length=200, default="*")
    result_pattern = models.CharField(max_length=200, default="*")
    keep_days = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_framework_display()}, {self.keep_days} days)"


class PolicyChange(models.Model):
    """A requested create, shorten, lengthen or delete of a policy; four eyes approve it."""

    class Kind(models.TextChoices):
        CREATE = "create", "create"
        SHORTEN = "shorten", "shorten"
        LENGTHEN = "lengthen", "lengthen"
        EDIT = "edit", "edit coverage"
        DELETE = "delete", "delete"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"

    policy = models.ForeignKey(RetentionPolicy, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The values the policy takes once approved (name, framework, patterns, keep_days).
    proposed = models.JSONField(default=dict)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-id"]


class LegalHold(models.Model):
    """Keeps what it covers from pruning and erasure until it is released.

    Scope: every non-empty dimension must match (agents AND users AND subjects AND
    streams AND the time range); within a dimension any listed value matches. A hold
    with no dimension at all is refused by the service (it would hold everything by
    accident).
    """

    name = models.CharField(max_length=200)
    reason = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    agents = models.JSONField(default=list, blank=True)
    user_ids = models.JSONField(default=list, blank=True)
    # HMAC subject keys (hex), matched on the events' `subject_key` column.
    subject_keys = models.JSONField(default=list, blank=True)
    streams = models.JSONField(default=list, blank=True)
    ts_from = models.DateTimeField(null=True, blank=True)
    ts_to = models.DateTimeField(null=True, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["released_at"], name="legal_hold_active")]

    def __str__(self) -> str:
        return f"hold {self.pk} {self.name}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class RetentionPlan(models.Model):
    """What a run may prune, computed by a dry run at `as_of`, approved by a second person.

    `items` lists per stream the range the plan allows: {"stream", "first_seq", "last_seq",
    "last_hash", "count", "policy", "oldest", "newest"}; `report` is the dry run's output.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", "proposed (awaiting approval)"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"
        EXECUTED = "executed", "executed"

    as_of = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    items = models.JSONField(default=list)
    report = models.JSONField(default=dict)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"retention plan {self.pk} ({self.status})"


class RetentionRun(models.Model):
    """One execution of an approved plan; resumable: `progress` is per stream the last
    seq pruned (each chunk's anchor commits with it)."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    plan = models.ForeignKey(RetentionPlan, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=32, default="command line")
    progress = models.JSONField(default=dict)
    pruned = models.BigIntegerField(default=0)
    anchors = models.IntegerField(default=0)
    # What a hold kept: [{"hold", "name", "stream", "from_seq", "events"}].
    skipped = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"retention run {self.pk} of plan {self.plan_id} ({self.status})"
