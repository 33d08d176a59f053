"""Scheduled reports emailed through a real SMTP server on the loopback (aiosmtpd): the message
states the run's figures, attaches only what the settings allow, is retried after the server
was down, is sent once per recipient, and each send or failure is on the portal's trail."""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import socket

import orjson
import pytest
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from rest_framework.test import APIClient

from obsportal.compliance.reports.delivery import deliver_run
from obsportal.compliance.reports.models import ReportDelivery
from obsportal.compliance.reports.services import create_schedule
from obsportal.compliance.reports.tasks import deliver_report_task
from obsportal.ingest.models import PersonalDatum
from tests.compliance.reports.conftest import build
from tests.compliance.reports.test_api import token_client
from tests.factories import with_role
from tests.support.trail import trail

RECIPIENTS = ["auditor@example.org", "ciso@example.org"]


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on the loopback; `start()` / `stop()` bring it up and down."""
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_USE_TLS = False
    settings.DEFAULT_FROM_EMAIL = "reports@portal.test"
    settings.OBSPORTAL_PUBLIC_URL = "https://portal.test"
    inbox.start, inbox.stop = controller.start, controller.stop
    yield inbox
    with contextlib.suppress(AssertionError):  # already stopped
        controller.stop()


def scheduled(built, recipients=RECIPIENTS):
    schedule = create_schedule(
        "soc2", "monthly", built.admin, by=built.admin, recipients=recipients
    )
    built.run.schedule = schedule
    built.run.save(update_fields=["schedule"])
    return built.run


def test_each_recipient_receives_the_run_figures_once(built, smtp):
    smtp.start()
    run = scheduled(built)
    deliver_run(run.pk)
    assert sorted(m["To"] for m in smtp.messages) == RECIPIENTS
    message = smtp.messages[0]
    assert message["From"] == "reports@portal.test"
    assert f"run {run.pk}" in message["Subject"] and "soc2" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert f"report.json SHA-256: {run.report_sha256}" in body
    assert f"Sections with exceptions: {run.sections_with_exceptions}" in body
    assert f"{run.since.isoformat()} to {run.until.isoformat()}" in body
    assert f"https://portal.test/reports/{run.pk}/" in body
    assert "agents-sdk verify-report" in body
    key_id = orjson.loads((built.folder / "report.json").read_bytes())["signature"]["key_id"]
    assert f"Signature key id: {key_id}" in body
    # attachments are off by default (populations may hold personal data)
    assert list(message.iter_attachments()) == []
    assert {d.status for d in ReportDelivery.objects.filter(run=run)} == {"sent"}

    # a redelivered task sends nothing twice
    deliver_report_task.apply(args=[run.pk]).get()
    assert len(smtp.messages) == 2

    events = trail("report.email")
    assert [e.result for e in events] == ["success", "success"]
    for event in events:
        assert "@" not in str(event.details)  # the address is in the sidecar, not the body
    sidecar = PersonalDatum.objects.filter(event__in=events)
    assert sorted(p.value for p in sidecar) == RECIPIENTS


@pytest.fixture
def with_pdf(world, settings):
    settings.OBSPORTAL_REPORT_PDF = True
    return build(world, "soc2")


def test_attachments_when_allowed_never_the_csvs(with_pdf, smtp, settings):
    settings.OBSPORTAL_REPORT_EMAIL_ATTACH = True
    smtp.start()
    run = scheduled(with_pdf, ["one@example.org"])
    assert "report.pdf" in run.files
    deliver_run(run.pk)
    [message] = smtp.messages
    attached = {
        part.get_filename(): hashlib.sha256(part.get_content()).hexdigest()
        if isinstance(part.get_content(), bytes)
        else hashlib.sha256(part.get_payload(decode=True)).hexdigest()
        for part in message.iter_attachments()
    }
    expected = {n: run.files[n]["sha256"] for n in ("report.json", "report.pdf")}
    assert attached == expected
    assert not any(name.endswith(".csv") for name in attached)
    assert any(name.endswith(".csv") for name in run.files)  # the run has CSVs to leave out

    settings.OBSPORTAL_REPORT_EMAIL_MAX_PDF_BYTES = 10  # a PDF over the limit stays behind
    ReportDelivery.objects.all().delete()
    deliver_run(run.pk)
    assert [p.get_filename() for p in smtp.messages[1].iter_attachments()] == ["report.json"]


def test_a_down_server_is_retried_and_the_failure_shows(built, smtp, client):
    run = scheduled(built, ["one@example.org"])
    with pytest.raises(ConnectionRefusedError):
        deliver_run(run.pk)  # nothing listens yet: the task would retry with backoff
    [delivery] = ReportDelivery.objects.filter(run=run)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert [e.result for e in trail("report.email")] == ["failure"]
    client.force_login(built.admin)
    page = client.get(f"/reports/{run.pk}/").content.decode()
    assert "one@example.org" in page and "failed" in page and "ConnectionRefusedError" in page

    smtp.start()
    deliver_run(run.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 2, "")
    assert len(smtp.messages) == 1
    assert [e.result for e in trail("report.email")] == ["failure", "success"]
    assert "sent" in client.get(f"/reports/{run.pk}/").content.decode()


def test_the_task_retries_on_smtp_failure(built, smtp):
    run = scheduled(built, ["one@example.org"])
    with pytest.raises(Retry, match=r"Retry in \d+s"):  # backoff: up to 30 s, then doubling
        deliver_report_task.apply(args=[run.pk]).get()
    smtp.start()
    deliver_report_task.apply(args=[run.pk]).get()
    assert len(smtp.messages) == 1


@pytest.mark.django_db
def test_recipients_need_the_reports_email_capability(django_user_model):
    body = {"framework": "soc2", "cadence": "monthly", "recipients": ["x@example.org"]}
    assert APIClient().post("/api/v1/reports/schedules/", body, format="json").status_code in (
        401,
        403,
    )
    auditor = with_role(django_user_model.objects.create_user("aud"), "auditor")
    api = token_client(auditor)
    assert api.post("/api/v1/reports/schedules/", body, format="json").status_code == 403
    officer = with_role(django_user_model.objects.create_user("off"), "compliance_officer")
    response = token_client(officer).post("/api/v1/reports/schedules/", body, format="json")
    assert response.status_code == 201 and response.json()["recipients"] == ["x@example.org"]
    schedule_id = response.json()["id"]
    url = f"/api/v1/reports/schedules/{schedule_id}/recipients/"
    assert api.put(url, {"recipients": []}, format="json").status_code == 403
    bad = token_client(officer).put(url, {"recipients": ["not-an-address"]}, format="json")
    assert bad.status_code == 400 and "recipients" in bad.json()
    # the refusals are on the trail as such; nothing changed
    assert [e.result for e in trail("report.recipients")] == ["denied", "failure"]

    from django.test import Client

    page = Client()
    page.force_login(auditor)
    refused = page.post(f"/reports/schedules/{schedule_id}/recipients/", {"recipients": "y@e.org"})
    assert refused.status_code in (302, 403)
    assert "Save recipients" not in page.get("/reports/").content.decode()
    page.force_login(officer)
    assert "Save recipients" in page.get("/reports/").content.decode()
    page.post(f"/reports/schedules/{schedule_id}/recipients/", {"recipients": "a@e.org, b@e.org"})
    [event] = [e for e in trail("report.recipients") if e.result == "success"]
    assert "@" not in str(event.details)
    assert PersonalDatum.objects.get(event=event).value == ["a@e.org", "b@e.org"]


@pytest.mark.django_db
def test_recipients_in_a_form_body_are_its_repeated_fields(django_user_model):
    # Found by schemathesis: a multipart body's repeated `recipients` read as one string (400).
    officer = with_role(django_user_model.objects.create_user("off"), "compliance_officer")
    api = token_client(officer)
    body = {"framework": "soc2", "cadence": "monthly", "recipients": ["a@example.org", "b@e.org"]}
    response = api.post("/api/v1/reports/schedules/", body, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["recipients"] == ["a@example.org", "b@e.org"]
    url = f"/api/v1/reports/schedules/{response.json()['id']}/recipients/"
    replaced = api.put(url, {"recipients": ["c@example.org"]}, format="multipart")
    assert replaced.status_code == 200 and replaced.json()["recipients"] == ["c@example.org"]
