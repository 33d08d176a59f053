"""`demo --incidents` stages a real fork and gap through the ingest task, once."""

from __future__ import annotations

import pytest

from obsportal.demo.incidents import INCIDENT_AGENT, stage_incidents
from obsportal.ingest.models import IntegrityIncident, PendingEvent, RejectedBatch, Stream
from obsportal.integrity.models import IncidentAcknowledgement
from tests.support.people import person

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_stages_a_fork_and_a_gap_once(tmp_path, django_user_model):
    person(django_user_model, "officer", "compliance_officer")
    said = stage_incidents(tmp_path)
    assert said.startswith("Staged a fork (seq 1) and a gap (seq 2)")
    assert said.endswith("'officer' acknowledged the fork, the gap is open")
    [ack] = IncidentAcknowledgement.objects.all()
    assert ack.kind == "fork" and ack.acknowledged_by.username == "officer"
    stream = Stream.objects.get(agent_id=INCIDENT_AGENT)
    assert (stream.status, stream.head_seq, stream.pending_count) == ("forked", 1, 2)
    assert IntegrityIncident.objects.get().seq == 1
    assert sorted(PendingEvent.objects.values_list("seq", flat=True)) == [3, 4]
    assert list(RejectedBatch.objects.values_list("reason_code", flat=True)) == ["fork"]
    assert stage_incidents(tmp_path).startswith("Reusing the staged fork")
    assert IncidentAcknowledgement.objects.count() == 1
    assert Stream.objects.filter(agent_id=INCIDENT_AGENT).count() == 1
