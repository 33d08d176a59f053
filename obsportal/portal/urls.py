from django.urls import path

from obsportal import params  # noqa: F401 - registers the stream_id path converter
from obsportal.portal.views import events, health, overview, streams

app_name = "portal"
urlpatterns = [
    path("", overview.overview_page, name="overview"),
    path("events/", events.event_list, name="events"),
    path("events/exports/", events.event_exports, name="event-exports"),
    path(
        "events/exports/<int:pk>/download",
        events.event_export_download,
        name="event-export-download",
    ),
    path("events/saved/", events.saved_searches, name="saved-searches"),
    path("events/<uuid:event_id>/", events.event_detail, name="event"),
    path("events/<uuid:event_id>/proof.json", events.event_proof, name="event-proof"),
    path("trail/", events.trail, name="trail"),
]

# The stream pages, under /streams/ in the `integrity` namespace their links have always used.
stream_urlpatterns = [
    path("", streams.stream_list, name="streams"),
    path("evidence/", streams.evidence_export, name="evidence"),
    path("<stream_id:stream_id>/", streams.stream_detail, name="stream"),
]

# At the root, outside any namespace: what orchestrators and load balancers poll.
health_urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
