"""HttpTransport: each batch POSTed to the portal's `/api/v1/ingest` with the agent's token."""

from __future__ import annotations

import datetime
import email.utils
import http.client
import threading
import time
import urllib.parse
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import orjson

from agents_sdk.shipping.transport import (
    INGEST_PATH,
    Batch,
    BatchRejected,
    Pending,
    Transport,
    TransportError,
    Verdict,
    check_verdict,
)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _FuturePending:
    def __init__(self, future: Future[Verdict]):
        self._future = future

    def result(self, timeout: float | None = None) -> Verdict:
        try:
            return self._future.result(timeout)
        except FutureTimeout:
            raise TransportError(f"no answer from the portal within {timeout} s") from None


class HttpTransport(Transport):
    """POSTs each batch to the portal's `/api/v1/ingest` with the agent's token.

    `url` is the portal's base URL (`https://portal.example`) or the full ingest
    URL. Up to `max_in_flight` requests run at once, each on its own kept-alive
    connection.
    """

    def __init__(self, url: str, token: str, *, timeout: float = 30.0, max_in_flight: int = 4):
        if not token:
            raise ValueError("HttpTransport needs the agent's ingest token")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        path = parts.path.rstrip("/")
        self.endpoint = path if path.endswith(INGEST_PATH) else path + INGEST_PATH
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, self.endpoint, "", ""))
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self.token = token
        self.timeout = timeout
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, max_in_flight), thread_name_prefix="agents-sdk-http"
        )

    def send(self, events: list[dict[str, Any]]) -> Verdict:
        return self._post(orjson.dumps({"events": events}))

    def submit(self, batch: Batch) -> Pending:
        return _FuturePending(self._executor.submit(self._post, batch.ingest_body()))

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            secure = self._scheme == "https"
            kind = http.client.HTTPSConnection if secure else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def _post(self, body: bytes) -> Verdict:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
        }
        connection = self._connection()
        try:
            connection.request("POST", self.endpoint, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            self._local.connection = None
            raise TransportError(f"POST {self.url}: {type(exc).__name__}: {exc}") from exc
        try:
            verdict = orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            verdict = {"reason": data[:200].decode("utf-8", "replace")}
        if response.status == 200 and isinstance(verdict, dict):
            return check_verdict(verdict)
        reason = code = ""
        if isinstance(verdict, dict):
            reason = str(verdict.get("reason") or verdict.get("detail") or "")
            code = str(verdict.get("reason_code") or "")
        if response.status in (400, 401, 403, 413):
            raise BatchRejected(
                f"HTTP {response.status}: {reason or response.reason}",
                code or f"http_{response.status}",
            )
        retry_after = None
        if response.status in (429, 503):
            retry_after = parse_retry_after(response.getheader("Retry-After"))
        raise TransportError(
            f"POST {self.url}: HTTP {response.status} {reason or response.reason}",
            retry_after=retry_after,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
