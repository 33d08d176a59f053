"""Celery tasks of ingestion: thin shells around the services."""

from __future__ import annotations

import contextlib
from typing import Any

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from agents_sdk.shipping.transports import INGEST_TASK
from obsportal.ingest import partitions
from obsportal.ingest.decoding import decode_batch
from obsportal.ingest.services import admit_batch, refuse_batch
from obsportal.ingest.verdicts import BatchRefused, Reason
from obsportal.telemetry.ingest import observed_admission

# A database that refuses the rows themselves (not the connection) is retried a few
# times, in case it was a passing state such as a migration, then dead-lettered.
MAX_STORAGE_RETRIES = 5


def backoff(retries: int) -> float:
    return min(60.0, 0.5 * 2 ** min(retries, 8))


@shared_task(name=INGEST_TASK, bind=True, acks_late=True, max_retries=None)
def ingest_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
    """Admit one batch; while the database is unreachable, retry with backoff, never drop."""
    # Decoded here (not only inside admit_batch) so the span and metrics see the events.
    with contextlib.suppress(BatchRefused):  # admit_batch refuses it again, counted
        batch = decode_batch(batch)
    try:
        return observed_admission(admit_batch, batch).as_dict()
    except (OperationalError, InterfaceError) as exc:
        # Down, restarting or unreachable: the batch waits in the broker as long as it takes.
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    except DatabaseError as exc:
        if self.request.retries < MAX_STORAGE_RETRIES:
            raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
        reason = f"the database refused the batch {self.request.retries + 1} times: {exc}"
        return refuse_batch(batch, Reason.STORAGE_ERROR, reason).as_dict()


@shared_task(name="obsportal.ingest.tasks.create_partitions_ahead", acks_late=False)
def create_partitions_ahead() -> dict[str, Any]:
    """The beat job: this month's audit partition and the next ones exist before rows come."""
    return {"created": partitions.create_partitions_ahead()}
