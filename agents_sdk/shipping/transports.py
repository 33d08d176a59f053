"""Transports carry one batch of journal events to the portal and return its verdict.

A transport answers only when the portal has answered for the batch: the
shipper advances its cursor on that answer alone, so a broker that loses a
queued message (Redis restarted without persistence) costs a resend, not an event.

`send(events)` is the whole contract. A transport may also offer
`submit(batch) -> Pending` so that several batches are in flight at once; the
shipper still takes their answers in order.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import urllib.parse
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from agents_sdk.audit.segments import JournalPosition
from agents_sdk.shipping import wire

INGEST_TASK = "obsportal.ingest.admit_batch"
INGEST_QUEUE = "ingest"
INGEST_PATH = "/api/v1/ingest"


class TransportError(Exception):
    """The batch may not have arrived; send it again later."""


class BatchRejected(Exception):
    """The portal refused the batch for good; the reason says why."""

    def __init__(self, reason: str):
        super().__init__(f"the portal rejected the batch: {reason}")
        self.reason = reason


@dataclass(slots=True)
class Batch:
    """Consecutive journal lines and where they end."""

    lines: list[bytes]
    end: JournalPosition
    first_seq: int
    last_seq: int

    def __len__(self) -> int:
        return len(self.lines)

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]

    def jsonl(self) -> str:
        """The batch as one string of JSON lines, straight from the journal's bytes."""
        return b"".join(self.lines).decode()

    def ingest_body(self) -> bytes:
        """`{"events": [...]}` straight from the journal's bytes, without re-serializing."""
        return b'{"events":[' + b",".join(line.rstrip(b"\n") for line in self.lines) + b"]}"


class Pending(Protocol):
    def result(self, timeout: float | None = None) -> dict[str, Any]: ...


class Transport(Protocol):
    def send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Deliver `events`; return the portal's verdict or raise TransportError/BatchRejected."""
        ...

    def close(self) -> None: ...


class _Done:
    """A Pending whose answer is already known (transports without `submit`)."""

    def __init__(self, verdict: dict[str, Any] | None = None, error: Exception | None = None):
        self._verdict, self._error = verdict, error

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        if self._error is not None:
            raise self._error
        assert self._verdict is not None
        return self._verdict


def submit(transport: Transport, batch: Batch) -> Pending:
    """Start sending `batch` with `transport`, in flight if it can, at once otherwise."""
    start = getattr(transport, "submit", None)
    if start is not None:
        return start(batch)
    try:
        return _Done(transport.send(batch.events()))
    except (TransportError, BatchRejected) as exc:
        return _Done(error=exc)


def check_verdict(verdict: dict[str, Any]) -> dict[str, Any]:
    if verdict.get("status") == "rejected":
        raise BatchRejected(verdict.get("reason", "no reason given"))
    return verdict


class _CeleryPending:
    def __init__(self, async_result: Any, on_failure: Any = None):
        self._async_result = async_result
        self._on_failure = on_failure

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        try:
            verdict = self._async_result.get(timeout=timeout, propagate=True)
        except Exception as exc:  # broker down, timeout, worker crash: all mean "resend"
            if self._on_failure is not None:
                self._on_failure(self._async_result.app)
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            with contextlib.suppress(Exception):  # the backend may be what is down
                self._async_result.forget()
        return check_verdict(verdict)


class CeleryTransport:
    """Sends each batch as the portal's ingest task over a Celery broker (Redis).

    Batches travel in the SDK's serializer, zstd-compressed (`agents_sdk.shipping.wire`);
    `plain_json=True` sends Celery's plain JSON instead, for a portal that predates it.
    """

    def __init__(
        self,
        broker_url: str | None = None,
        *,
        token: str | None = None,
        app: Any = None,
        result_timeout: float = 30.0,
        plain_json: bool = False,
    ):
        if app is None and not broker_url:
            raise ValueError("CeleryTransport needs a broker_url or a Celery app")
        self.broker_url = broker_url
        self._owns_app = app is None
        self.app = app if app is not None else self._new_app()
        self._renew_lock = threading.Lock()
        self.token = token
        self.result_timeout = result_timeout
        if plain_json:
            self._serializer, self._compression = "json", None
        else:
            wire.register_serializer()
            self._serializer, self._compression = wire.SERIALIZER, wire.compression()

    def _new_app(self) -> Any:
        from celery import Celery

        # Not the process's current app: an agent that uses Celery for its own tasks
        # (shared_task, current_app) must keep sending them where it configured.
        app = Celery(
            "agents_sdk", broker=self.broker_url, backend=self.broker_url, set_as_current=False
        )
        app.conf.update(
            # Celery lets $CELERY_BROKER_URL override `broker=`; the URL this transport
            # was given must win (the read/write URLs are consulted first).
            broker_read_url=self.broker_url,
            broker_write_url=self.broker_url,
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            broker_connection_retry_on_startup=False,
            broker_connection_max_retries=0,
            broker_transport_options={"max_retries": 0},
            result_backend_transport_options={"retry_policy": {"max_retries": 0}},
        )
        return app

    def _eager(self) -> bool:
        return bool(self.app.conf.task_always_eager and INGEST_TASK in self.app.tasks)

    def send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        if self._eager():
            return self._apply(self._batch(events))
        return self._start(self._batch(events)).result(self.result_timeout)

    def submit(self, batch: Batch) -> Pending:
        # The journal's lines travel as one JSONL string: the broker's JSON codec then
        # handles one string, not a thousand nested objects (portals since the JSONL
        # wire form; `send(events)` keeps the `events` form that every portal accepts).
        message = {"token": self.token, "lines": batch.jsonl()}
        if self._eager():
            try:
                return _Done(self._apply(message))
            except (TransportError, BatchRejected) as exc:
                return _Done(error=exc)
        try:
            return self._start(message)
        except TransportError as exc:
            return _Done(error=exc)

    def _batch(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return {"token": self.token, "events": events}

    def _apply(self, message: dict[str, Any]) -> dict[str, Any]:
        """Run the task here, in process (the portal's embedded mode)."""
        try:
            verdict = self.app.tasks[INGEST_TASK].apply(args=[message]).get()
        except Exception as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return check_verdict(verdict)

    def _start(self, message: dict[str, Any]) -> _CeleryPending:
        try:
            async_result = self.app.send_task(
                INGEST_TASK,
                args=[message],
                queue=INGEST_QUEUE,
                serializer=self._serializer,
                compression=self._compression,
            )
        except Exception as exc:  # the broker is down
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return _CeleryPending(async_result, self._renew_app if self._owns_app else None)

    def _renew_app(self, failed_app: Any) -> None:
        """Replace the app whose result consumer failed; Celery's Redis result backend
        gives up for good after a failed reconnect ("the Celery application must be
        restarted"), so a long broker outage would otherwise stall shipping forever."""
        with self._renew_lock:
            if self.app is not failed_app:  # another in-flight batch renewed it already
                return
            self.app = self._new_app()
        with contextlib.suppress(Exception):
            failed_app.close()

    def close(self) -> None:
        if self._owns_app:
            self.app.close()


class _FuturePending:
    def __init__(self, future: Future):
        self._future = future

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        try:
            return self._future.result(timeout)
        except FutureTimeout:
            raise TransportError(f"no answer from the portal within {timeout} s") from None


class HttpTransport:
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

    def send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
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

    def _post(self, body: bytes) -> dict[str, Any]:
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
        reason = ""
        if isinstance(verdict, dict):
            reason = str(verdict.get("reason") or verdict.get("detail") or "")
        if response.status in (400, 401, 403, 413):
            raise BatchRejected(f"HTTP {response.status}: {reason or response.reason}")
        raise TransportError(f"POST {self.url}: HTTP {response.status} {reason or response.reason}")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
