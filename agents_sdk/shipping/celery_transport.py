"""CeleryTransport: each batch as the portal's ingest task, over its Celery broker (Redis)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from agents_sdk.shipping import wire
from agents_sdk.shipping.transport import (
    INGEST_QUEUE,
    INGEST_TASK,
    Answered,
    Batch,
    BatchRejected,
    Pending,
    Transport,
    TransportError,
    Verdict,
    check_verdict,
)


class _CeleryPending:
    def __init__(self, async_result: Any, on_failure: Any = None):
        self._async_result = async_result
        self._on_failure = on_failure

    def result(self, timeout: float | None = None) -> Verdict:
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


class CeleryTransport(Transport):
    """Sends each batch as the portal's ingest task over a Celery broker (Redis).

    Batches travel in the SDK's serializer, which zstd-compresses (`agents_sdk.shipping.wire`);
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
            self._serializer = "json"
        else:
            wire.register_serializer()
            self._serializer = wire.serializer()

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

    def send(self, events: list[dict[str, Any]]) -> Verdict:
        if self._eager():
            return self._apply(self._batch(events))
        return self._start(self._batch(events)).result(self.result_timeout)

    def submit(self, batch: Batch) -> Pending:
        # The journal's lines travel as one JSONL string: the broker's JSON codec then
        # handles one string, not a thousand nested objects (portals since the JSONL
        # wire form; `send(events)` keeps the `events` form that every portal accepts).
        message: dict[str, Any] = {"token": self.token, "lines": batch.jsonl()}
        if batch.head is not None:
            message["heads"] = [batch.head]
        if self._eager():
            try:
                return Answered(self._apply(message))
            except (TransportError, BatchRejected) as exc:
                return Answered(error=exc)
        try:
            return self._start(message)
        except TransportError as exc:
            return Answered(error=exc)

    def _batch(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return {"token": self.token, "events": events}

    def _apply(self, message: dict[str, Any]) -> Verdict:
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
