"""Query parameters read strictly: a moment is a real, zoned, representable time."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import register_converter
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError


def read_moment(text: str) -> datetime:
    """`text` as an aware datetime in UTC; ValueError with a sentence for anything else.

    A bound past either end of what a datetime holds (9999-12-31T23:59-01:00) is held
    at that end: as a filter it means the same, and it must not reach the query."""
    if not isinstance(text, str):  # a JSON body may carry anything: true, 3, a list
        raise ValueError(
            f"{str(text)[:40]!r} is not a string: an ISO 8601 date and time with a UTC "
            "offset is expected, e.g. 2026-11-01T00:00:00Z."
        )
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValueError(
            f"'{text[:40]}' is not an ISO 8601 date and time with a UTC offset, "
            "e.g. 2026-11-01T00:00:00Z."
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


def parse_moment(name: str, text: str) -> datetime:
    """read_moment for an API parameter: a 400 naming the parameter."""
    try:
        return read_moment(text)
    except ValueError as exc:
        raise ValidationError({name: [str(exc)]}) from None


def check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise ValidationError({"until": ["until must be later than since."]})


class StreamIdConverter:
    """A stream id in a URL path, whatever is stored: ids admitted before the charset was
    enforced may hold '/' or be empty, and their pages must still open (`/streams//`)."""

    regex = ".*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(StreamIdConverter, "stream_id")
