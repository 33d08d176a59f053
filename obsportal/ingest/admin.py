from django.contrib import admin

from obsportal.accounts.admin import ReadOnlyAdmin
from obsportal.ingest.models import AuditEvent, IntegrityIncident, RejectedBatch, Stream


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("ts", "agent_id", "action", "result", "user_id", "stream", "seq")
    list_filter = ("result", "action")
    search_fields = ("agent_id", "user_id", "resource", "event_id")


@admin.register(Stream)
class StreamAdmin(ReadOnlyAdmin):
    list_display = ("id", "agent_id", "head_seq", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("id", "agent_id")


@admin.register(IntegrityIncident)
class IntegrityIncidentAdmin(ReadOnlyAdmin):
    list_display = ("stream", "seq", "kind", "detected_at")
    list_filter = ("kind",)


@admin.register(RejectedBatch)
class RejectedBatchAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "agent_id", "reason_code", "event_count")
    list_filter = ("reason_code",)
