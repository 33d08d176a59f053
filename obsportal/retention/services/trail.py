"""The portal's trail as retention's services write it, and the refusal they raise.

The recorder is registered by this app's ready() (as accounts' change recorder is), so
that the pages, which may not reach ingest's write path, can call these services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_trail: Callable[..., Any] | None = None


class RetentionRefused(Exception):
    """A retention request that the rules refuse; the message says which rule."""


def register_trail_recorder(record: Callable[..., Any]) -> None:
    global _trail
    _trail = record


def record_trail(action: str, **fields: Any) -> Any:
    """Write the change's trail event (fail closed: no trail, no change)."""
    if _trail is None:
        raise RuntimeError("the portal's trail recorder is not registered (obsportal.trail)")
    return _trail(action, **fields)


def actor_name(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


def via(user: Any) -> str:
    """Where a change came from, as its trail record says."""
    return "portal" if user is not None else "command line"
