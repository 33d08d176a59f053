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
        params["from"] = str(_epoch_ms(around, -AROUND))
        params["to"] = str(_epoch_ms(around, AROUND))
    if agent_id:
        params["var-agent"] = agent_id
    query = f"?{urlencode(params)}" if params else ""
    return f"{settings.GRAFANA_URL.rstrip('/')}/d/{DASHBOARDS[dashboard]}{query}"


def _epoch_ms(moment: datetime, offset: timedelta) -> int:
    """Milliseconds since the epoch of `moment + offset`, held within datetime's range:
    an event stamped at the very end (or start) of time still gets a link."""
    try:
        return int((moment + offset).timestamp() * 1000)
    except OverflowError:
        return int(moment.timestamp() * 1000)


def trace_url(trace_id: str | None) -> str:
    """The trace in Jaeger's UI; empty when the event carries no trace."""
    if not trace_id:
        return ""
    return f"{settings.JAEGER_URL.rstrip('/')}/trace/{quote(trace_id)}"
