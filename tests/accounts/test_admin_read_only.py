"""The admin shows audit rows, streams and integrity findings but cannot change them."""

from __future__ import annotations

import pytest
from django.contrib import admin

from obsportal.ingest.models import AuditEvent, IntegrityIncident, RejectedBatch, Stream
from obsportal.ingest.services import admit_batch
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointHead,
    StreamVerification,
    VerificationRun,
)
from tests.factories import journal_events

pytestmark = pytest.mark.django_db

READ_ONLY = [
    AuditEvent,
    Stream,
    IntegrityIncident,
    RejectedBatch,
    Checkpoint,
    CheckpointHead,
    VerificationRun,
    StreamVerification,
]


def url(model, suffix: str) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/{suffix}"


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_a_superuser_may_view_but_not_add_change_or_delete(admin_client, rf, admin_user, model):
    assert model in admin.site._registry, f"{model.__name__} is not in the admin"
    model_admin = admin.site._registry[model]
    request = rf.get("/admin/")
    request.user = admin_user
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert admin_client.get(url(model, "")).status_code == 200
    assert admin_client.get(url(model, "add/")).status_code == 403


def test_a_superuser_cannot_reset_a_stream_or_delete_its_events(
    admin_client, agent_token, tmp_path
):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=2)
    assert admit_batch({"token": token, "events": events}).admitted == 2
    stream = Stream.objects.get(agent_id=agent)
    Stream.objects.filter(pk=stream.pk).update(status=Stream.Status.FORKED)
    change = url(Stream, f"{stream.pk}/change/")
    admin_client.post(
        change,
        {"id": stream.pk, "agent_id": agent, "head_seq": 1, "status": "ok", "pending_count": 0},
    )
    assert Stream.objects.get(agent_id=agent).status == Stream.Status.FORKED
    event = AuditEvent.objects.filter(agent_id=agent).first()
    admin_client.post(url(AuditEvent, f"{event.pk}/delete/"), {"post": "yes"})
    admin_client.post(
        url(AuditEvent, ""),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert AuditEvent.objects.filter(agent_id=agent).count() == 2
    page = admin_client.get(change).content.decode()
    assert 'name="_save"' not in page
