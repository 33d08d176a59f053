"""Per-credential limits on the HTTP ingest edge, counted in Redis so that every gunicorn
worker (and every portal host) shares one allowance per credential.

Each credential has, per fixed window of OBSPORTAL_INGEST_RATE_LIMIT's seconds, a
number of requests and a number of body bytes (OBSPORTAL_INGEST_BYTES_PER_WINDOW). A
request over either is refused with the seconds until the window ends (Retry-After).
The counters are one pipelined INCR/INCRBY/EXPIRE round trip a request. Without a
Redis (the embedded demo) or with the limit "0" there are no limits; when Redis does not
answer, ingest stays open (the limits protect the portal, they must not stop it).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings

log = logging.getLogger(__name__)
KEY_PREFIX = "obsportal:ingest-limit"


@dataclass
class Throttled(Exception):
    """The credential used up its allowance of this window."""

    limit: str  # "requests" or "bytes"
    allowance: int
    window_seconds: int
    retry_after: int

    @property
    def reason(self) -> str:
        unit = "requests" if self.limit == "requests" else "bytes"
        return (
            f"this credential may send {self.allowance} {unit} per {self.window_seconds} s; "
            f"retry in {self.retry_after} s"
        )


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_seconds: int
    bytes: int

    @classmethod
    def from_settings(cls) -> RateLimit | None:
        spec = str(getattr(settings, "OBSPORTAL_INGEST_RATE_LIMIT", "") or "0")
        if spec == "0":
            return None
        count, _, seconds = spec.partition("/")
        return cls(
            requests=int(count),
            window_seconds=int(seconds or 60),
            bytes=int(settings.OBSPORTAL_INGEST_BYTES_PER_WINDOW),
        )


_clients: dict[str, object] = {}


def _redis(url: str):
    client = _clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _clients[url] = client
    return client


def charge(credential_key: str, body_bytes: int, requests: int = 1) -> None:
    """Count a request of `body_bytes` against the credential; raise Throttled when over."""
    limit = RateLimit.from_settings()
    url = settings.OBSPORTAL_RATE_LIMIT_REDIS_URL
    if limit is None or not url.startswith(("redis://", "rediss://", "unix://")):
        return
    import redis

    now = time.time()
    window = int(now // limit.window_seconds)
    key = f"{KEY_PREFIX}:{credential_key}:{window}"
    try:
        pipe = _redis(url).pipeline(transaction=False)
        pipe.hincrby(key, "requests", requests)
        pipe.hincrby(key, "bytes", max(0, body_bytes))
        pipe.expire(key, limit.window_seconds + 1)
        requests, sent, _ = pipe.execute()
    except redis.RedisError as exc:
        log.warning("ingest limits not applied, Redis did not answer: %s", exc)
        return
    retry_after = max(1, math.ceil((window + 1) * limit.window_seconds - now))
    if requests > limit.requests:
        raise Throttled("requests", limit.requests, limit.window_seconds, retry_after)
    if sent > limit.bytes:
        raise Throttled("bytes", limit.bytes, limit.window_seconds, retry_after)
