from django.contrib import admin

from obsportal.ingest.models import AuditEvent, IntegrityIncident, RejectedBatch, Stream


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("ts", "agent_id", "action", "result", "user_id", "stream", "seq")
    list_filter = ("result", "action")
    search_fields = ("agent_id", "user_id", "resource", "event_id")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Stream)
admin.site.register(IntegrityIncident)
admin.site.register(RejectedBatch)
