"""How the pages show a moment (UTC, with the reader's local time beside it) and a long
value (cut short, the whole of it on demand)."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def moment(value: datetime | None, precise: bool = False) -> str:
    """`2026-12-01 22:03:05 UTC`, in a <time> that portal.js gives the local time too."""
    if value is None:
        return "—"
    utc = value.astimezone(UTC)
    shown = utc.strftime("%Y-%m-%d %H:%M:%S.%f" if precise else "%Y-%m-%d %H:%M:%S")
    return format_html(
        '<time datetime="{}" data-local title="{} UTC">{} UTC</time>',
        utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        utc.strftime("%Y-%m-%d %H:%M:%S.%f"),
        shown,
    )


@register.simple_tag
def cut(value, width: int = 16) -> str:
    """A long value cut at `width` characters; the whole of it in the title, and shown in
    place on a click (portal.js) or by keyboard focus."""
    if value in (None, ""):
        return "—"
    text = str(value)
    if len(text) <= width:
        return format_html('<span class="value">{}</span>', text)
    return format_html(
        '<span class="cut" tabindex="0" role="button" aria-label="show the whole value" '
        'title="{}" data-full="{}">{}…</span>',
        text,
        text,
        text[: width - 1],
    )


@register.filter
def duration(value) -> str:
    """A timedelta as `3 min`, `2 h 5 min`, `4 d 3 h`."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def percent_of(value: int, whole: int) -> float:
    return 100.0 * value / whole if whole else 0.0


@register.filter
def get(mapping, key):
    return mapping.get(key, 0) if mapping else 0
