"""What officers keep of their searches: saved searches, and exports of a search's results."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedSearch(models.Model):
    """A named event search of one person: the query string of /events/, as bookmarked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=120)
    # The search's parameters as a URL query string (agent_id=a&since=...): re-validated by
    # the filter every time it is opened, so a saved search can never bypass it.
    query = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_search_user_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class EventExport(models.Model):
    """The results of one event search, as CSV or JSON, requested by someone and built by a
    Celery task into a file (recorded on the trail when requested, before it is built)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "building"
        DONE = "done", "ready"
        FAILED = "failed", "failed"

    requested_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The search's query string, as the page and the API take it.
    query = models.TextField()
    format = models.CharField(max_length=8, choices=Format.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-id"]
