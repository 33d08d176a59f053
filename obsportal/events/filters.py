"""The one filter of audit events: the events page and the events API take the same query.

Read strictly, so that no value reaches the query it cannot be: a time bound must be a
real zoned moment (month 99 is a 400 with a sentence, not a 500), a result one of the
four, and a parameter given empty is refused rather than ignored.
"""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from agents_sdk.audit.chain import RESULTS
from obsportal.ingest.models import AuditEvent
from obsportal.params import read_moment

REFUSED_EMPTY = ("since", "until", "result", "order")
# The two sorts by time: `order=newest` (the default) or `order=oldest`.
ORDERS = ("newest", "oldest")


class MomentField(forms.CharField):
    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return None
        try:
            return read_moment(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@extend_schema_field(OpenApiTypes.DATETIME)
class MomentFilter(django_filters.Filter):
    field_class = MomentField


class EventQueryForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        for name in REFUSED_EMPTY:
            if self.data.get(name) == "":
                self.add_error(name, f"{name} is empty; give a value or leave it out.")
        since, until = cleaned.get("since"), cleaned.get("until")
        if since is not None and until is not None and since >= until:
            self.add_error("until", "until must be later than since.")
        return cleaned


class AuditEventFilter(django_filters.FilterSet):
    since = MomentFilter(
        field_name="ts",
        lookup_expr="gte",
        help_text="events at or after this time (ISO 8601 with a UTC offset)",
    )
    until = MomentFilter(
        field_name="ts",
        lookup_expr="lt",
        help_text="events before this time (ISO 8601 with a UTC offset)",
    )
    result = django_filters.ChoiceFilter(choices=[(r, r) for r in sorted(RESULTS)])
    # By id, not as a choice of Stream rows: an unknown stream lists nothing (not a 400).
    stream = django_filters.CharFilter(field_name="stream_id")
    # The sort by time; applied by the cursor pagination (selectors.ordering_of), which
    # needs it to page. Declared here so that it is validated and documented with the rest.
    order = django_filters.ChoiceFilter(
        choices=[(o, o) for o in ORDERS],
        method="_sorted_elsewhere",
        help_text="newest (the default) or oldest first",
    )

    def _sorted_elsewhere(self, queryset, name, value):
        return queryset

    class Meta:
        model = AuditEvent
        form = EventQueryForm
        fields = ["agent_id", "action", "result", "user_id", "stream", "trace_id", "resource"]
