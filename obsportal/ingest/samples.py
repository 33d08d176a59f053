"""The sample a dead letter keeps of a refused batch: enough to investigate, never a secret.

A refused batch is kept forever in the admin's reach, so its sample is bounded (a few
KiB of text however large the batch) and redacted: every ingest token (`agt_...`,
wherever the sender put it) is replaced, and characters PostgreSQL cannot store (NUL)
are escaped. The sample is text, not the batch's objects: a refused batch may not
even be JSON, or may be nested past what any serializer walks.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

SAMPLE_CHARS = 2048
FIRST_EVENTS = 3
TOKEN_PATTERN = re.compile(r"agt_[A-Za-z0-9_\-]+")
REDACTED = "agt_[redacted]"


def dead_letter_sample(batch: Any, raw: bytes | None = None) -> str:
    """Bounded, redacted text of a refused batch (its first events, or its raw body)."""
    if raw is not None:
        return redacted(raw[: SAMPLE_CHARS * 4].decode("utf-8", "replace"))
    return redacted(_text_of(batch))


def redacted(text: str) -> str:
    """`text` without tokens or NUL, cut to SAMPLE_CHARS."""
    text = TOKEN_PATTERN.sub(REDACTED, text).replace("\x00", "\\u0000")
    if len(text) > SAMPLE_CHARS:
        text = text[:SAMPLE_CHARS] + f"… [{len(text) - SAMPLE_CHARS}+ more characters]"
    return text


def _text_of(batch: Any) -> str:
    if isinstance(batch, dict):
        events = batch.get("events")
        shown: Any = {
            key: (value[:FIRST_EVENTS] if key == "events" and isinstance(value, list) else value)
            for key, value in batch.items()
            if key not in ("token", "lines")
        }
        if isinstance(events, list) and len(events) > FIRST_EVENTS:
            shown["events_not_shown"] = len(events) - FIRST_EVENTS
        if isinstance(batch.get("lines"), str):
            shown["lines"] = batch["lines"][: SAMPLE_CHARS * 2]
    else:
        shown = batch
    try:
        return orjson.dumps(shown, default=repr).decode()
    except (orjson.JSONEncodeError, RecursionError):
        return repr(type(batch))
