from django.contrib import admin

from obsportal.accounts.admin import ReadOnlyAdmin
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointHead,
    StreamVerification,
    VerificationRun,
)


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("issued_at", "tree_size", "root_hash")


@admin.register(CheckpointHead)
class CheckpointHeadAdmin(ReadOnlyAdmin):
    list_display = ("checkpoint", "stream_id", "seq", "hash")
    search_fields = ("stream_id",)


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "trigger", "status", "streams_checked", "streams_with_problems")
    list_filter = ("status",)


@admin.register(StreamVerification)
class StreamVerificationAdmin(ReadOnlyAdmin):
    list_display = ("run", "stream_id", "status", "events_checked")
    list_filter = ("status",)
    search_fields = ("stream_id",)
