"""Reading an evidence bundle's lines: the format's name, its JSON objects and its times.

The format itself is described in `agents_sdk.offline.bundle`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

BUNDLE_FORMAT = "obsportal-evidence-bundle/2"


class BundleUnreadable(ValueError):
    """The file is not an evidence bundle this verifier understands."""


def read_object(line: bytes, where: str) -> dict[str, Any]:
    """One line of the bundle as a JSON object; `where` names it in the error."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BundleUnreadable(f"{where} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BundleUnreadable(f"{where} is not a JSON object")
    return value


def parse_time(text: Any, what: str) -> datetime | None:
    """An RFC 3339 time with its offset, or None for null; `what` names it in the error."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise BundleUnreadable(f"{what} {text!r} is not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise BundleUnreadable(f"{what} {text!r} has no UTC offset")
    return value
