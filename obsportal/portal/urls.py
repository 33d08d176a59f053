from django.urls import path

from obsportal import params  # noqa: F401 - registers the stream_id path converter
from obsportal.portal.views import events, health, integrity, overview, streams, subjects

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
    path("subjects/", subjects.subject_requests, name="subjects"),
    path("subjects/<uuid:pk>/", subjects.subject_request, name="subject"),
    path("subjects/<uuid:pk>/files/<str:fmt>/", subjects.subject_file, name="subject-file"),
]

# The integrity pages, in the `integrity` namespace their links have always used. A stream
# id may hold anything, '/' included, so nothing else lives under /streams/: the stream's
# page is the one route there (the evidence form, once at /streams/evidence/, shadowed a
# stream named "evidence"), and its actions post to routes of their own.
integrity_urlpatterns = [
    path("streams/", streams.stream_list, name="streams"),
    path("streams/<stream_id:stream_id>/", streams.stream_detail, name="stream"),
    path("evidence/", streams.evidence_export, name="evidence"),
    path("incidents/", integrity.incident_list, name="incidents"),
    path("incidents/acknowledge/", integrity.acknowledge_incident, name="incident-acknowledge"),
    path("incidents/forks/<int:pk>/", integrity.fork_detail, name="fork"),
    path("incidents/gaps/<stream_id:stream_id>/", integrity.gap_detail, name="gap"),
    path(
        "incidents/checkpoints/<int:pk>/",
        integrity.checkpoint_incident_detail,
        name="checkpoint-incident",
    ),
    path("incidents/findings/<int:pk>/", integrity.finding_detail, name="finding"),
    path("checkpoints/", integrity.checkpoint_list, name="checkpoints"),
    path("checkpoints/<int:number>/", integrity.checkpoint_detail, name="checkpoint"),
    path("dead-letters/", integrity.dead_letter_list, name="dead-letters"),
    path("dead-letters/<int:pk>/", integrity.dead_letter_detail, name="dead-letter"),
    path("verifications/", integrity.verify_now, name="verify-now"),
    path("verifications/<int:pk>/", integrity.verification_request, name="verification-request"),
]

# At the root, outside any namespace: what orchestrators and load balancers poll.
health_urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
