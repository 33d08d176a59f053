"""Celery tasks of ingestion: thin shells around the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from agents_sdk.shipping.transports import INGEST_TASK
from obsportal.ingest.services import admit_batch
from obsportal.telemetry.ingest import observed_admission


def backoff(retries: int) -> float:
    return min(60.0, 0.5 * 2 ** min(retries, 8))


@shared_task(name=INGEST_TASK, bind=True, acks_late=True, max_retries=None)
def ingest_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
    """Admit one batch; while the database is unreachable, retry with backoff."""
    try:
        return observed_admission(admit_batch, batch).as_dict()
    except (DatabaseError, InterfaceError) as exc:
        # The database is down or refused the write: retry, never drop. Input that
        # can never be stored is refused by the service before it reaches the database.
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
