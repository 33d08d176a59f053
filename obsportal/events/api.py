"""REST API of audit events: filtered, cursor-paginated queries in envelope-v1 form."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.http import Http404
from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from obsportal.accounts.permissions import visible_events
from obsportal.accounts.roles import Capability
from obsportal.events import selectors
from obsportal.events.filters import AuditEventFilter
from obsportal.events.renderers import EVENT_RENDERERS
from obsportal.ingest.envelope import ENVELOPE_COLUMNS, as_envelope_json
from obsportal.ingest.models import AuditEvent
from obsportal.pagination import CheckedCursorPagination
from obsportal.trail.services import READ_YOUR_OWN_TRAIL_SECONDS, flush_trail, trail_agent_id


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

    def get_ordering(self, request, queryset, view):
        # `order` (newest, oldest): the same sort the selector gave the queryset.
        return selectors.ordering_of(request.query_params)


class EventSearch(DjangoFilterBackend):
    """The API's filter is the pages' selector: `search_events` with the same parameters
    (AuditEventFilter, the caller's scope, the sort); its schema is the filter's."""

    def filter_queryset(self, request, queryset, view):
        if request.query_params.get("agent_id") == trail_agent_id():
            flush_trail(READ_YOUR_OWN_TRAIL_SECONDS)  # what this caller just did is listed
        try:
            return selectors.search_events(request.query_params, request.user)
        except selectors.InvalidEventQuery as exc:
            raise ValidationError(exc.errors) from None


class AuditEventList(generics.ListAPIView):
    """Audit events, newest first; filter by agent, action, result, user, stream, time range."""

    required_capability = Capability.EVENTS_READ
    serializer_class = AuditEventSerializer
    renderer_classes = EVENT_RENDERERS
    filterset_class = AuditEventFilter
    filter_backends = [EventSearch]
    pagination_class = EventCursorPagination

    def get_queryset(self):
        return selectors.events()  # narrowed and filtered by EventSearch


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

    def get_object(self):
        # The first row stored, not get(): no unique index spans the audit table's month
        # partitions, so a row copied into another month must not turn this into a 500.
        queryset = self.get_queryset().filter(event_id=self.kwargs["event_id"]).order_by("id")
        event = queryset.first()
        if event is None:
            raise Http404
        self.check_object_permissions(self.request, event)
        return event

    def retrieve(self, request, *args, **kwargs) -> Response:
        # The stored bytes themselves: Serializer.data would need a dict.
        return Response(orjson.Fragment(as_envelope_json(self.get_object())))


# Included under /api/v1/ by obsportal.urls.
urlpatterns = [
    path("events/", AuditEventList.as_view(), name="event-list"),
    path("events/<uuid:event_id>/", AuditEventDetail.as_view(), name="event-detail"),
]
