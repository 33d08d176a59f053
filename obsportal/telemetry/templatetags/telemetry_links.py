from django import template

from obsportal.telemetry import links

register = template.Library()


@register.simple_tag
def dashboard_url(dashboard: str, agent_id: str | None = None, around=None) -> str:
    return links.dashboard_url(dashboard, agent_id, around)


@register.filter
def trace_url(trace_id: str | None) -> str:
    return links.trace_url(trace_id)
