from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from obsportal.accounts import oidc
from obsportal.accounts.permissions import HasCapability
from obsportal.accounts.roles import Capability
from obsportal.compliance import api as compliance_api
from obsportal.compliance.reports import api as reports_api
from obsportal.events import api as events_api
from obsportal.ingest import api as ingest_api
from obsportal.integrity import api as integrity_api
from obsportal.portal import urls as portal_urls
from obsportal.retention import api as retention_api
from obsportal.telemetry.exposition import metrics_view


class SchemaView(SpectacularAPIView):
    required_capability = Capability.API_SCHEMA
    permission_classes = [HasCapability]


class SchemaDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the portal's own static files; the split view serves its init script
    as a file, since the CSP allows no inline script."""

    required_capability = Capability.API_SCHEMA
    permission_classes = [HasCapability]
    template_name = "portal/swagger_ui.html"


# Every app's REST API: its `api.urlpatterns`, all under /api/v1/.
API_APPS = (events_api, ingest_api, integrity_api, retention_api, compliance_api, reports_api)

api_v1 = [
    *(pattern for app in API_APPS for pattern in app.urlpatterns),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("schema/docs/", SchemaDocsView.as_view(url_name="schema"), name="schema-docs"),
]

urlpatterns = [
    path("", include(portal_urls)),
    path("", include((portal_urls.integrity_urlpatterns, "integrity"))),
    path("people/", include("obsportal.portal.people_urls")),
    path("retention/", include("obsportal.portal.retention_urls")),
    path("reports/", include("obsportal.portal.reports_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("oidc/authenticate/", oidc.SignOnStart.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", oidc.SignOnCallback.as_view(), name="oidc_authentication_callback"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    *portal_urls.health_urlpatterns,
    path("metrics", metrics_view, name="metrics"),
]

handler400 = "obsportal.errors.bad_request"
handler404 = "obsportal.errors.not_found"
handler500 = "obsportal.errors.server_error"
