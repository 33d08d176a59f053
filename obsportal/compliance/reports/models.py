"""Report runs (a framework over a period, built by a Celery task, kept with its digests) and
report schedules (monthly or quarterly, dropped into a directory)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReportSchedule(models.Model):
    """Run a framework's report for each month or quarter once it has ended."""

    class Cadence(models.TextChoices):
        MONTHLY = "monthly", "monthly"
        QUARTERLY = "quarterly", "quarterly"

    framework = models.CharField(max_length=32)
    cadence = models.CharField(max_length=16, choices=Cadence.choices)
    # The report shows what this person may read, as if they ran it.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Where a copy of each finished report goes (JSON, PDF, CSVs), if set.
    drop_dir = models.CharField(max_length=500, blank=True)
    # Addresses emailed when each scheduled run is ready (see delivery.py); at most MAX_RECIPIENTS.
    recipients = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.cadence} {self.framework} report"


class ReportRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "building"
        DONE = "done", "ready"
        FAILED = "failed", "failed"

    framework = models.CharField(max_length=32)
    since = models.DateTimeField()
    until = models.DateTimeField()
    seed = models.CharField(max_length=64)
    trigger = models.CharField(max_length=16, default="portal")
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.IntegerField(default=0)  # percent
    step = models.CharField(max_length=200, blank=True)
    # Every file of the finished report: {name: {"sha256", "bytes"}}, the PDF and JSON included.
    files = models.JSONField(default=dict)
    # SHA-256 of report.json, the signed document.
    report_sha256 = models.CharField(max_length=64, blank=True)
    sections_with_exceptions = models.IntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "since", "until"],
                name="report_run_once_per_scheduled_period",
                condition=models.Q(schedule__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.framework} report {self.pk} ({self.since:%Y-%m-%d}..{self.until:%Y-%m-%d})"


class ReportDelivery(models.Model):
    """One recipient's email of one run: the row that makes a redelivered task send once."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.EmailField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.IntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "recipient"], name="report_delivery_once")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} to {self.recipient}: {self.status}"
