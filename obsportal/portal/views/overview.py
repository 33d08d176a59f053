"""The landing page: the period's volume and outcomes, integrity at a glance, incidents,
dead letters and retention, with Grafana and Jaeger a click away. Read from
events.overview (pre-aggregated counts and heads), never by counting audit rows."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from obsportal.accounts.permissions import capability_required
from obsportal.accounts.roles import Capability
from obsportal.events.overview import DEFAULT_PERIOD, PERIODS, overview
from obsportal.params import read_moment
from obsportal.telemetry.links import DASHBOARDS

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@capability_required(Capability.EVENTS_READ)
def overview_page(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period") or DEFAULT_PERIOD
    errors = {}
    until = timezone.now()
    if request.GET.get("until"):
        try:
            until = read_moment(request.GET["until"])
        except ValueError as exc:
            errors["until"] = str(exc)
    if period not in PERIODS:
        errors["period"] = f"period must be one of {', '.join(PERIODS)}."
        period = DEFAULT_PERIOD
    since = until - PERIODS[period]
    if errors:
        until = timezone.now()
        since = until - PERIODS[period]
    figures = overview(request.user, since, until)
    context = {
        "o": figures,
        "period": period,
        "periods": list(PERIODS),
        "until_param": request.GET.get("until", "") if not errors else "",
        "errors": errors,
        "search_since": figures.since.strftime(FORMAT),
        "search_until": until.strftime(FORMAT),
        "grafana": _grafana_links(figures.since, until),
        "jaeger": _jaeger_link(figures.since, until),
        "retention": _retention_status(),
        "chart": _chart(figures),
        "results": RESULT_ORDER,
    }
    return render(request, "portal/overview.html", context, status=400 if errors else 200)


RESULT_ORDER = ("success", "failure", "denied", "error")
CHART_HEIGHT = 100


def _chart(figures) -> list[dict]:
    """Each bucket as stacked SVG rectangles (attributes, not inline styles: the CSP)."""
    peak = figures.peak or 1
    bars = []
    for index, bucket in enumerate(figures.buckets):
        y, segments = CHART_HEIGHT, []
        for result in RESULT_ORDER:
            height = CHART_HEIGHT * bucket.by_result.get(result, 0) / peak
            if height:
                y -= height
                segments.append({"result": result, "y": round(y, 2), "h": round(height, 2)})
        bars.append({"x": index * 10, "bucket": bucket, "segments": segments})
    return bars


def _grafana_links(since: datetime, until: datetime) -> list[tuple[str, str]]:
    """Each dashboard with its time range set to the overview's period."""
    query = urlencode({"from": _ms(since), "to": _ms(until)})
    base = settings.GRAFANA_URL.rstrip("/")
    labels = {"agents": "Agent monitoring", "performance": "Performance", "audit": "Audit"}
    return [(labels[name], f"{base}/d/{uid}?{query}") for name, uid in DASHBOARDS.items()]


def _jaeger_link(since: datetime, until: datetime) -> str:
    query = urlencode({"start": _ms(since) * 1000, "end": _ms(until) * 1000, "limit": 20})
    return f"{settings.JAEGER_URL.rstrip('/')}/search?{query}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# The retention and holds slot. This page never imports the retention app (it is built
# beside this one): once installed, its AppConfig may offer `overview_status()`, a dict
# with at least "summary" (and "url"), which is shown here.
def _retention_status() -> dict | None:
    if not apps.is_installed("obsportal.retention"):
        return None
    config = next(c for c in apps.get_app_configs() if c.name == "obsportal.retention")
    status = getattr(config, "overview_status", None)
    if status is None:
        return {"summary": "installed; its status is not published for the overview yet"}
    return status()
