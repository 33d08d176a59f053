from django.urls import path

from obsportal import params  # noqa: F401 - registers the stream_id path converter
from obsportal.portal.views import events, health, streams, subjects

app_name = "portal"
urlpatterns = [
    path("", events.event_list, name="events"),
    path("trail/", events.trail, name="trail"),
    path("subjects/", subjects.subject_requests, name="subjects"),
    path("subjects/<uuid:pk>/", subjects.subject_request, name="subject"),
    path("subjects/<uuid:pk>/files/<str:fmt>/", subjects.subject_file, name="subject-file"),
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
