from django.conf import settings


def external_links(request):
    """Grafana and Jaeger base URLs for every page's navigation."""
    return {"grafana_url": settings.GRAFANA_URL, "jaeger_url": settings.JAEGER_URL}
