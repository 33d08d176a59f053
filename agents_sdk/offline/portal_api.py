"""The portal's REST API as the cross-check reads it: a stream's events, detail and personal data.

Only the standard library (urllib); every request carries a portal user's API token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

PAGE_SIZE = 1000


class ServerUnavailable(Exception):
    """The portal could not be asked (network, HTTP error, bad token)."""


def server_events(base_url: str, stream: str, token: str | None) -> Iterator[dict[str, Any]]:
    """Every event of `stream` from `GET /api/v1/events/`, following the cursor pages."""
    query = urllib.parse.urlencode({"stream": stream, "page_size": PAGE_SIZE})
    url: str | None = _api_url(base_url, f"events/?{query}")
    while url:
        # An unknown stream is an empty page: the portal holds no event of it (all missing).
        page = _get_json(url, token, absent=_names_unknown_stream, default={})
        yield from page.get("results", [])
        url = page.get("next")


def server_stream(base_url: str, stream: str, token: str | None) -> dict[str, Any]:
    """The portal's detail of `stream` (`GET /api/v1/streams/<id>/`): its pruned ranges and
    its latest agent-signed head; {} when the portal holds no such stream."""
    url = _api_url(base_url, f"streams/{urllib.parse.quote(stream, safe='')}/")
    detail = _get_json(url, token, absent=_not_found, default={})
    return detail if isinstance(detail, dict) else {}


def server_personal_data(base_url: str, stream: str, token: str | None) -> dict[str, Any]:
    """`GET /api/v1/streams/<stream>/personal-data/`: the fields the portal no longer holds
    and the erasure request it cites for each; {} from a portal without the endpoint."""
    url = _api_url(base_url, f"streams/{urllib.parse.quote(stream, safe='')}/personal-data/")
    body = _get_json(url, token, absent=_not_found, default={})
    return body if isinstance(body, dict) else {}


def pruned_of(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The ranges the portal says retention pruned (none if it says nothing)."""
    pruned = detail.get("pruned")
    return [p for p in pruned if isinstance(p, dict)] if isinstance(pruned, list) else []


def signed_head_of(detail: dict[str, Any]) -> dict[str, Any] | None:
    """The portal's latest agent-signed head of the stream, if it holds one."""
    head = detail.get("signed_head")
    return head if isinstance(head, dict) else None


def _api_url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/{path}"


def _get_json(
    url: str,
    token: str | None,
    *,
    absent: Callable[[urllib.error.HTTPError], bool],
    default: Any,
) -> Any:
    """The JSON body of `GET url`; `default` when the portal's error says it holds no such
    thing (`absent`); ServerUnavailable for any other failure."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if absent(exc):
            return default
        raise ServerUnavailable(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServerUnavailable(f"{url}: {exc}") from exc


def _not_found(error: urllib.error.HTTPError) -> bool:
    return error.code == 404


def _names_unknown_stream(error: urllib.error.HTTPError) -> bool:
    """A filter refusing an unknown stream id (the stream was deleted on the server)."""
    if error.code not in (400, 404):
        return False
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return False
    return isinstance(body, dict) and "stream" in body
