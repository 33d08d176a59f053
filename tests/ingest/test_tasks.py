"""The ingest task: retried while the database is away, dead-lettered when it refuses for good."""

import pytest

from obsportal.ingest.models import (
    RejectedBatch,
)

pytestmark = pytest.mark.django_db


def test_task_dead_letters_a_batch_the_database_keeps_refusing(agent_token, monkeypatch):
    from django.db import IntegrityError, OperationalError

    from obsportal.ingest import tasks

    _, token = agent_token
    batch = {"token": token, "events": [{"seq": 0}]}

    def refuse(_batch):
        raise IntegrityError("value violates a constraint")

    monkeypatch.setattr(tasks, "admit_batch", refuse)
    tasks.ingest_batch.push_request(id="t-1", retries=tasks.MAX_STORAGE_RETRIES)
    try:
        verdict = tasks.ingest_batch.run(batch)
    finally:
        tasks.ingest_batch.pop_request()
    assert (verdict["status"], verdict["reason_code"]) == ("rejected", "storage_error")
    assert "violates a constraint" in RejectedBatch.objects.get().reason

    def down(_batch):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks, "admit_batch", down)
    with pytest.raises(OperationalError):  # called directly, retry re-raises: never dead-lettered
        tasks.ingest_batch.run(batch)
    assert RejectedBatch.objects.count() == 1
