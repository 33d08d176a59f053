"""The one filter of audit events: the events page and the events API take the same query."""

from __future__ import annotations

import django_filters

from obsportal.ingest.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(
        field_name="ts", lookup_expr="gte", help_text="events at or after this time (ISO 8601)"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="ts", lookup_expr="lt", help_text="events before this time (ISO 8601)"
    )

    class Meta:
        model = AuditEvent
        fields = ["agent_id", "action", "result", "user_id", "stream", "trace_id", "resource"]
