"""How a batch travels through Celery: its own serializer and zstd compression.

A batch of 1,000 events is about 0.6 MB of JSON. Celery's JSON codec (the stdlib
`json`) escapes it, the Redis transport base64-encodes it, and the worker's main
process decodes the base64, copies the message into its unacked store and pipes
it to a pool process: every step costs time per byte. orjson encodes the task
body about 4x faster, and zstd shrinks it about 9x before base64 (figures in
benchmarks/INGEST.md). The worker accepts both this and plain `json`.
"""

from __future__ import annotations

import orjson

SERIALIZER = "agents-sdk-json"
CONTENT_TYPE = "application/x-agents-sdk-json"


def register_serializer() -> None:
    """Teach kombu this process's serializer; both the shipper and the worker call it."""
    from kombu.serialization import register

    register(SERIALIZER, orjson.dumps, orjson.loads, content_type=CONTENT_TYPE)  # type: ignore[no-untyped-call]


def compression() -> str | None:
    """kombu's zstd when it is available here (backports.zstd below Python 3.14), else none."""
    from kombu import compression as codecs

    try:
        codecs.get_encoder("zstd")  # type: ignore[no-untyped-call]
    except Exception:
        return None
    return "zstd"
