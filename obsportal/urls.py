from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from obsportal.accounts.permissions import HasCapability
from obsportal.accounts.roles import Capability
from obsportal.ingest import api as ingest_api
from obsportal.integrity.urls import api_urlpatterns as integrity_api
from obsportal.portal import views as portal_views
from obsportal.telemetry.exposition import metrics_view


class SchemaView(SpectacularAPIView):
    required_capability = Capability.API_SCHEMA
    permission_classes = [HasCapability]


class SchemaDocsView(SpectacularSwaggerView):
    required_capability = Capability.API_SCHEMA
    permission_classes = [HasCapability]


api_v1 = [
    path("events/", ingest_api.AuditEventList.as_view(), name="event-list"),
    path("events/<uuid:event_id>/", ingest_api.AuditEventDetail.as_view(), name="event-detail"),
    path("ingest", ingest_api.IngestBatchView.as_view(), name="ingest"),
    *integrity_api,
    path("schema/", SchemaView.as_view(), name="schema"),
    path("schema/docs/", SchemaDocsView.as_view(url_name="schema"), name="schema-docs"),
]

urlpatterns = [
    path("", include("obsportal.portal.urls")),
    path("streams/", include("obsportal.integrity.urls")),
    path("people/", include("obsportal.portal.people_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("healthz", portal_views.healthz, name="healthz"),
    path("readyz", portal_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]
