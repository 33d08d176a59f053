"""The trail middleware: a state-changing request and its trail event commit together,
so work queued on commit (an export job) never starts for a request that was refused."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.test import Client

from obsportal.ingest.models import AuditEvent
from obsportal.integrity.models import EvidenceExport
from tests.support.chains import superuser_sql
from tests.support.people import person

TRAIL = "obsportal"


def queued_exports() -> int:
    """Messages waiting on the broker's `exports` queue (no worker consumes it here)."""
    return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("exports")


@pytest.fixture
def empty_exports_queue():
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("exports")
    yield
    broker.delete("exports")


@pytest.mark.django_db(transaction=True)
def test_an_export_job_is_not_queued_when_its_trail_event_cannot_commit(
    two_agents, django_user_model, empty_exports_queue
):
    officer = Client()
    officer.force_login(person(django_user_model, "olga-officer", "compliance_officer"))
    superuser_sql(
        (
            "ALTER TABLE ingest_auditevent ADD CONSTRAINT trail_unwritable"
            " CHECK (agent_id <> 'obsportal') NOT VALID",
            (),
        )
    )
    try:
        refused = officer.post(
            "/api/v1/evidence/exports/", {"agent_id": "agent-a"}, content_type="application/json"
        )
    finally:
        superuser_sql(("ALTER TABLE ingest_auditevent DROP CONSTRAINT trail_unwritable", ()))
    assert refused.status_code == 503
    # Neither the job's row nor its message: the refused request started no work.
    assert EvidenceExport.objects.count() == 0
    assert queued_exports() == 0


@pytest.mark.django_db(transaction=True)
def test_an_export_job_is_queued_once_its_trail_event_is_committed(
    two_agents, django_user_model, empty_exports_queue
):
    officer = Client()
    officer.force_login(person(django_user_model, "olga-officer", "compliance_officer"))
    requested = officer.post(
        "/api/v1/evidence/exports/", {"agent_id": "agent-a"}, content_type="application/json"
    )
    assert requested.status_code == 202, requested.content
    assert queued_exports() == 1
    [event] = AuditEvent.objects.filter(agent_id=TRAIL, action="evidence.exports")
    assert (event.user_id, event.details["method"], event.details["status"]) == (
        "olga-officer",
        "POST",
        202,
    )
