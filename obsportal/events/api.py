"""REST API of audit events: filtered, cursor-paginated queries in envelope-v1 form."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.db.models import QuerySet
from django.urls import path
from django.utils.dateparse import parse_datetime
from rest_framework import generics, serializers
from rest_framework.response import Response

from obsportal.accounts.permissions import visible_events
from obsportal.accounts.roles import Capability
from obsportal.events import selectors
from obsportal.events.filters import AuditEventFilter
from obsportal.events.renderers import EVENT_RENDERERS
from obsportal.ingest.envelope import ENVELOPE_COLUMNS, as_envelope_json
from obsportal.ingest.models import AuditEvent, Stream
from obsportal.pagination import CheckedCursorPagination


class AuditEventSerializer(serializers.ModelSerializer):
    """An event in envelope-v1 form (the hashed body plus `hash`), as the exact bytes its
    agent hashed: rendered only by `ExactJSONRenderer`."""

    class Meta:
        model = AuditEvent
        fields = list(ENVELOPE_COLUMNS)

    def to_representation(self, instance: AuditEvent) -> orjson.Fragment:
        return orjson.Fragment(as_envelope_json(instance))


class EventCursorPagination(CheckedCursorPagination):
    ordering = selectors.NEWEST_FIRST
    page_size = 50


class AuditEventList(generics.ListAPIView):
    """Audit events, newest first; filter by agent, action, result, user, stream, time range."""

    required_capability = Capability.EVENTS_READ
    serializer_class = AuditEventSerializer
    renderer_classes = EVENT_RENDERERS
    filterset_class = AuditEventFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        params = self.request.query_params
        requested = params.get("agent_id")
        if requested is None and params.get("stream"):
            # One named stream asks for its agent's events: `agents-sdk verify --against`
            # crosschecks a trail journal by its stream alone.
            requested = (
                Stream.objects.filter(pk=params["stream"])
                .values_list("agent_id", flat=True)
                .first()
            )
        visible = visible_events(selectors.events(), self.request.user, requested)
        if requested is not None and len(params.getlist("agent_id")) <= 1:
            visible = clamped_to_newest(visible, requested, params.get("until"))
        return visible


def clamped_to_newest(events: QuerySet, agent_id: str, until: str | None) -> QuerySet:
    """`events` bounded by `agent_id`'s newest event (before `until`): the same rows.

    Why: newest first, PostgreSQL walks the time index (perfectly correlated with the
    table) and filters the agent row by row, costed as if the agent's events were spread
    evenly over time. For an agent holding half the rows but quiet lately, that reads
    every other agent's recent rows first (issue #11: ~460k filtered for 51 shown). Its
    newest time is one probe of the (agent_id, ts, id) index; from there on the walk
    meets its events at once (benchmarks/api_events.py --skew).
    """
    try:
        bound = parse_datetime(until) if until else None
    except ValueError:
        return events  # the filter refuses it with its sentence
    newest = AuditEvent.objects.filter(agent_id=agent_id)
    if bound is not None:
        if bound.tzinfo is None:
            return events  # the filter refuses it with its sentence
        newest = newest.filter(ts__lt=bound)
    latest = newest.order_by("-ts").values_list("ts", flat=True).first()
    if latest is None:
        return events.none()
    return events.filter(ts__lte=latest)


class AuditEventDetail(generics.RetrieveAPIView):
    required_capability = Capability.EVENTS_READ
    serializer_class = AuditEventSerializer
    renderer_classes = EVENT_RENDERERS
    lookup_field = "event_id"

    def get_queryset(self):
        # An event outside the caller's scope is not found, as if it did not exist; a
        # trail event is found by its id for a role with trail.read.
        trail = settings.OBSPORTAL_TRAIL_AGENT_ID
        return visible_events(selectors.events(), self.request.user, trail)

    def retrieve(self, request, *args, **kwargs) -> Response:
        # The stored bytes themselves: Serializer.data would need a dict.
        return Response(orjson.Fragment(as_envelope_json(self.get_object())))


# Included under /api/v1/ by obsportal.urls.
urlpatterns = [
    path("events/", AuditEventList.as_view(), name="event-list"),
    path("events/<uuid:event_id>/", AuditEventDetail.as_view(), name="event-detail"),
]
