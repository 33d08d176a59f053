"""Subject keys at admission, access exports, the accounting of disclosures, deadlines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from obsportal.compliance.models import AgentDeclaration, SubjectRequest
from obsportal.compliance.subjects import deadlines, exports, records, requests
from obsportal.ingest.models import AuditEvent, PersonalDatum
from obsportal.ingest.services import admit_batch
from obsportal.ingest.subjects import backfill_subject_keys, subject_key
from obsportal.trail.services import flush_trail, trail_agent_id
from tests.factories import journal_events


@pytest.fixture
def carol(transactional_db, agent_token, tmp_path, signing_key, settings):
    settings.OBSPORTAL_EXPORT_DIR = tmp_path / "exports"
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the worker's own run: tests/e2e/test_subjects_e2e.py
    agent, token = agent_token
    events = journal_events(
        tmp_path,
        agent,
        count=4,
        name="c.jsonl",
        user_id="carol",
        personal_data={"email": "Carol@Example.org", "prompt": "my knee hurts"},
    )
    events += journal_events(tmp_path, agent, count=3, name="d.jsonl", user_id="dave")
    assert admit_batch({"token": token, "events": events}).admitted == 7
    AgentDeclaration.objects.create(
        agent_id=agent,
        purposes=["triage of support tickets"],
        recipients=["ticket vendor (processor)"],
        categories=["contact", "health"],
        legal_basis="Art. 6(1)(b) contract",
    )
    return events


def test_subject_keys_are_stored_at_admission_for_the_user_and_identifying_fields(carol):
    key = subject_key("carol")
    assert AuditEvent.objects.filter(subject_key=key).count() == 4
    email_key = subject_key("carol@example.org")  # normalized: case folded
    assert PersonalDatum.objects.filter(field="email", subject_key=email_key).count() == 4
    # a non-identifying field is about the event's subject
    assert PersonalDatum.objects.filter(field="prompt", subject_key=key).count() == 4
    assert len(key) == 32 and "carol" not in key


def test_backfill_fills_rows_stored_before_subject_keys(carol):
    from tests.support.chains import superuser_sql

    superuser_sql(
        ("UPDATE ingest_auditevent SET subject_key = NULL", ()),
        ("UPDATE ingest_personaldatum SET subject_key = NULL", ()),
    )
    assert backfill_subject_keys(chunk_size=3) == 7 + 8
    assert AuditEvent.objects.filter(subject_key=subject_key("dave")).count() == 3
    assert backfill_subject_keys() == 0  # idempotent


def test_an_access_export_holds_events_processing_and_consultations(carol, django_user_model):
    officer = django_user_model.objects.create_user("olga")
    from tests.factories import with_role

    with_role(officer, "compliance_officer")
    request = requests.create_request(
        kind="access", identifier="carol, carol@example.org", actor=officer
    )
    assert request.due_at.month in (request.received_at.month % 12 + 1,)
    exports.request_export(request, actor=officer)  # eager Celery in tests: built now
    request.refresh_from_db()
    assert request.status == "completed", request.error
    assert set(request.files) == {"json", "csv", "pdf"}
    from obsportal.compliance.renderers.subject_export import file_path

    content = json.loads(file_path(request, "json").read_bytes())
    assert len(content["events"]) == 4
    assert content["events"][0]["personal_data"] == {
        "email": "Carol@Example.org",
        "prompt": "my knee hurts",
    }
    assert content["processing"][0]["purposes"] == ["triage of support tickets"]
    assert file_path(request, "pdf").read_bytes().startswith(b"%PDF")
    assert "carol" not in file_path(request, "csv").read_text().split("\n")[0]
    # the request and the export are on the trail, naming the request, not the person
    flush_trail()
    trail = AuditEvent.objects.filter(agent_id=trail_agent_id()).order_by("id")
    actions = list(trail.values_list("action", flat=True))
    assert actions[:2] == ["subject.request", "subject.export"]
    for row in trail:
        assert "carol" not in row.canonical.lower()


def test_consultations_list_searches_that_named_the_subject(carol, client, django_user_model):
    from tests.factories import with_role

    officer = django_user_model.objects.create_user("olga", password="pw-olga-12345")
    with_role(officer, "compliance_officer")
    client.force_login(officer)
    assert client.get("/api/v1/events/", {"user_id": "carol"}).status_code == 200
    found = records.consultations([subject_key("carol")], [])
    assert [c["purpose"] for c in found] == ["search of audit events"]
    assert found[0]["role"] == "compliance officer"


def test_accounting_of_disclosures_lists_marked_events(transactional_db, agent_token, tmp_path):
    from tests.factories import JournalWriter, read_journal

    agent, token = agent_token
    path = tmp_path / "h.jsonl"
    with JournalWriter(path, agent) as journal:
        journal.append(
            "disclosure",
            "success",
            user_id="pat-1",
            details={
                "recipient": "Acme Labs",
                "purpose": "treatment",
                "description": "lab results",
            },
        )
        journal.append("llm_call", "success", user_id="pat-1", details={})
    assert admit_batch({"token": token, "events": read_journal(path)}).admitted == 2
    found = records.disclosures([subject_key("pat-1")])
    assert [(d["recipient"], d["purpose"], d["description"]) for d in found] == [
        ("Acme Labs", "treatment", "lab results")
    ]


def test_deadlines_gdpr_one_month_plus_two_hipaa_sixty_plus_thirty(transactional_db):
    received = datetime(2026, 1, 31, 12, tzinfo=UTC)
    gdpr = requests.create_request(kind="access", identifier="x", received_at=received)
    assert gdpr.due_at == datetime(2026, 2, 28, 12, tzinfo=UTC)
    with pytest.raises(requests.RequestRefused):
        requests.extend_request(gdpr, "  ")
    requests.extend_request(gdpr, "the request is complex (Art. 12(3))")
    assert gdpr.deadline == datetime(2026, 4, 28, 12, tzinfo=UTC)
    with pytest.raises(requests.RequestRefused):
        requests.extend_request(gdpr, "again")
    hipaa = requests.create_request(kind="accounting", identifier="x", received_at=received)
    assert hipaa.framework == "hipaa"
    assert (hipaa.due_at - received).days == 60
    requests.extend_request(hipaa, "records are off site")
    assert (hipaa.deadline - received).days == 90
    assert {r.pk for r in deadlines.overdue_requests()} == {gdpr.pk, hipaa.pk}
    assert deadlines.request_counts()["overdue"] == 2
    assert SubjectRequest.objects.count() == 2


def test_the_overdue_metric_counts_requests_past_their_deadline(transactional_db):
    from prometheus_client import CollectorRegistry, generate_latest

    from obsportal.compliance.collectors import SubjectRequestCollector

    old = datetime(2025, 1, 1, tzinfo=UTC)
    requests.create_request(kind="access", identifier="late", received_at=old)
    requests.create_request(kind="access", identifier="fresh")
    registry = CollectorRegistry()
    registry.register(SubjectRequestCollector())
    exposition = generate_latest(registry).decode()
    assert "obsportal_subject_requests_overdue 1.0" in exposition
    assert "obsportal_subject_requests_open 2.0" in exposition
