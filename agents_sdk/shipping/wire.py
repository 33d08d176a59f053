"""How a batch travels through Celery: the SDK's own serializer, zstd inside it.

A batch of 1,000 events is about 0.6 MB of JSON. Celery's JSON codec (the stdlib
`json`) escapes it, the Redis transport base64-encodes it, and the worker's main
process decodes the base64, copies the message into its unacked store and pipes
it to a pool process: every step costs time per byte. orjson encodes the task
body about 4x faster, and zstd shrinks it about 9x before base64 (figures in
benchmarks/INGEST.md).

The serializer compresses (`agents-sdk-json-zstd`), not kombu: kombu decompresses a
message as the worker's main process receives it, which then pipes the whole 0.6 MB to
a pool process; a serializer's body stays as it travelled, so the main process pipes
the ~70 KB. (Celery still decodes it there once, to look for a protocol-1 `args` key.)
zstd level 1: faster than kombu's level 3 and, on journal lines, no larger. The worker
accepts this, the earlier `agents-sdk-json` with kombu's zstd, and plain `json`.
"""

from __future__ import annotations

from typing import Any

import orjson

SERIALIZER = "agents-sdk-json-zstd"
CONTENT_TYPE = "application/x-agents-sdk-json+zstd"
# The form of SDKs before the serializer compressed (kombu's zstd beside it), still read.
JSON_SERIALIZER = "agents-sdk-json"
JSON_CONTENT_TYPE = "application/x-agents-sdk-json"
ZSTD_LEVEL = 1


def _zstd() -> Any:
    """The zstd module kombu uses too (the standard library's from Python 3.14), or None."""
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        try:
            from backports import zstd
        except ImportError:
            return None
    return zstd


def register_serializer() -> None:
    """Teach kombu this process's serializers; both the shipper and the worker call it."""
    from kombu.serialization import register

    register(JSON_SERIALIZER, orjson.dumps, orjson.loads, content_type=JSON_CONTENT_TYPE)  # type: ignore[no-untyped-call]
    zstd = _zstd()
    if zstd is None:
        return

    def dumps(body: Any) -> bytes:
        return zstd.compress(orjson.dumps(body), ZSTD_LEVEL)  # type: ignore[no-any-return]

    def loads(payload: bytes) -> Any:
        return orjson.loads(zstd.decompress(payload))

    register(SERIALIZER, dumps, loads, content_type=CONTENT_TYPE, content_encoding="binary")  # type: ignore[no-untyped-call]


def serializer() -> str:
    """What a shipper sends with: the compressing serializer where zstd is available here."""
    return SERIALIZER if _zstd() is not None else JSON_SERIALIZER
