"""Links from portal pages to Grafana dashboards and Jaeger traces (GRAFANA_URL, JAEGER_URL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from django.conf import settings

# The uids of the dashboards in grafana/dashboards/.
DASHBOARDS = {
    "agents": "obsportal-agents",
    "performance": "obsportal-performance",
    "audit": "obsportal-audit",
}
AROUND = timedelta(minutes=15)


def dashboard_url(
    dashboard: str, agent_id: str | None = None, around: datetime | None = None
) -> str:
    """A dashboard with its agent variable set and its time range centred on `around`."""
    params: dict[str, str] = {}
    if around is not None:
        params["from"] = str(int((around - AROUND).timestamp() * 1000))
        params["to"] = str(int((around + AROUND).timestamp() * 1000))
    if agent_id:
        params["var-agent"] = agent_id
    query = f"?{urlencode(params)}" if params else ""
    return f"{settings.GRAFANA_URL.rstrip('/')}/d/{DASHBOARDS[dashboard]}{query}"


def trace_url(trace_id: str | None) -> str:
    """The trace in Jaeger's UI; empty when the event carries no trace."""
    if not trace_id:
        return ""
    return f"{settings.JAEGER_URL.rstrip('/')}/trace/{quote(trace_id)}"
