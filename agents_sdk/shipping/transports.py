"""Transports carry one batch of journal events to the portal and return its verdict.

A transport's `send` returns only when the portal has answered for the batch:
the shipper advances its cursor on that answer alone, so a broker that loses a
queued message (Redis restarted without persistence) costs a resend, not an event.
"""

from __future__ import annotations

from typing import Any, Protocol

INGEST_TASK = "obsportal.ingest.admit_batch"
INGEST_QUEUE = "ingest"


class TransportError(Exception):
    """The batch may not have arrived; send it again later."""


class BatchRejected(Exception):
    """The portal refused the batch for good; the reason says why."""

    def __init__(self, reason: str):
        super().__init__(f"the portal rejected the batch: {reason}")
        self.reason = reason


class Transport(Protocol):
    def send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Deliver `events`; return the portal's verdict or raise TransportError/BatchRejected."""
        ...

    def close(self) -> None: ...


def check_verdict(verdict: dict[str, Any]) -> dict[str, Any]:
    if verdict.get("status") == "rejected":
        raise BatchRejected(verdict.get("reason", "no reason given"))
    return verdict


class CeleryTransport:
    """Sends each batch as the portal's ingest task over a Celery broker (Redis)."""

    def __init__(
        self,
        broker_url: str | None = None,
        *,
        token: str | None = None,
        app: Any = None,
        result_timeout: float = 30.0,
    ):
        if app is None:
            if not broker_url:
                raise ValueError("CeleryTransport needs a broker_url or a Celery app")
            from celery import Celery

            app = Celery("agents_sdk", broker=broker_url, backend=broker_url)
            app.conf.update(
                task_serializer="json",
                result_serializer="json",
                accept_content=["json"],
                broker_connection_retry_on_startup=False,
                broker_connection_max_retries=0,
                broker_transport_options={"max_retries": 0},
                result_backend_transport_options={"retry_policy": {"max_retries": 0}},
            )
            self._owns_app = True
        else:
            self._owns_app = False
        self.app = app
        self.token = token
        self.result_timeout = result_timeout

    def send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        batch = {"token": self.token, "events": events}
        try:
            if self.app.conf.task_always_eager and INGEST_TASK in self.app.tasks:
                # The portal's embedded mode: the task runs here, in process.
                verdict = self.app.tasks[INGEST_TASK].apply(args=[batch]).get()
            else:
                async_result = self.app.send_task(INGEST_TASK, args=[batch], queue=INGEST_QUEUE)
                try:
                    verdict = async_result.get(timeout=self.result_timeout, propagate=True)
                finally:
                    async_result.forget()
        except Exception as exc:  # broker down, timeout, worker crash: all mean "resend"
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return check_verdict(verdict)

    def close(self) -> None:
        if self._owns_app:
            self.app.close()
