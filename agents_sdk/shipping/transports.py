"""The transports under their 0.1 import path; each now lives in its own module."""

from agents_sdk.shipping.celery_transport import CeleryTransport
from agents_sdk.shipping.http_transport import HttpTransport
from agents_sdk.shipping.memory import InMemoryTransport
from agents_sdk.shipping.transport import (
    INGEST_PATH,
    INGEST_QUEUE,
    INGEST_TASK,
    Answered,
    Batch,
    BatchRejected,
    Pending,
    Transport,
    TransportError,
    Verdict,
    as_transport,
    check_verdict,
    submit,
)

__all__ = [
    "INGEST_PATH",
    "INGEST_QUEUE",
    "INGEST_TASK",
    "Answered",
    "Batch",
    "BatchRejected",
    "CeleryTransport",
    "HttpTransport",
    "InMemoryTransport",
    "Pending",
    "Transport",
    "TransportError",
    "Verdict",
    "as_transport",
    "check_verdict",
    "submit",
]
