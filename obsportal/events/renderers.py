"""JSON rendered by orjson, so that an event's stored bytes pass through exactly.

An event is served as an `orjson.Fragment` of its canonical body plus `hash`: the
bytes its agent hashed and its journal holds, never re-encoded (json.dumps would
parse and rewrite numbers such as 1e+21).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from django.utils.functional import Promise
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer


def _default(value: Any) -> Any:
    if isinstance(value, Promise | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class ExactJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_default)


EVENT_RENDERERS = [ExactJSONRenderer, BrowsableAPIRenderer]
