"""Emailing a finished scheduled run to its schedule's recipients, once each (ReportDelivery)."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.utils import timezone

from obsportal.compliance.reports.models import ReportDelivery, ReportRun
from obsportal.compliance.reports.paths import report_dir
from obsportal.trail.services import record_trail

MAX_RECIPIENTS = 10


def clean_recipients(values: list[str]) -> list[str]:
    """Validated, deduplicated addresses; ValueError names the first bad one."""
    cleaned: list[str] = []
    for value in values:
        address = str(value).strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            raise ValueError(f"{value!r} is not an email address") from None
        if address not in cleaned:
            cleaned.append(address)
    if len(cleaned) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} recipients")
    return cleaned


def message_body(run: ReportRun) -> str:
    document = orjson.loads((report_dir(run) / "report.json").read_bytes())
    signature = document.get("signature", {})
    flagged = [s.get("title", s.get("key", "?")) for s in document.get("sections", [])
               if s.get("status") == "exceptions"]  # fmt: skip
    link = f"{settings.OBSPORTAL_PUBLIC_URL.rstrip('/')}/reports/{run.pk}/"
    lines = [
        f"The {run.framework} compliance report (run {run.pk}) is ready.",
        "",
        f"Framework: {run.framework}",
        f"Period (UTC): {run.since.isoformat()} to {run.until.isoformat()}",
        f"Sections with exceptions: {run.sections_with_exceptions}",
        *(f"  - {title}" for title in flagged),
        f"report.json SHA-256: {run.report_sha256}",
        f"Signature key id: {signature.get('key_id', '')}",
        f"Run: {link}",
        "",
        "Verify the signed report offline: agents-sdk verify-report report.json",
        "(download report.json from the run page; compare its SHA-256 with the one above).",
    ]
    return "\n".join(lines) + "\n"


def _attachments(run: ReportRun) -> list[str]:
    # Off by default: a report's populations may hold personal data (user ids, names), and mail
    # leaves the portal's access control and trail. The CSVs are never attached.
    if not settings.OBSPORTAL_REPORT_EMAIL_ATTACH:
        return []
    names = ["report.json"]
    pdf = run.files.get("report.pdf")
    if pdf and pdf["bytes"] <= settings.OBSPORTAL_REPORT_EMAIL_MAX_PDF_BYTES:
        names.append("report.pdf")
    return names


def deliver_run(run_id: int) -> list[ReportDelivery]:
    """Send each pending recipient one email; a failure is recorded, then raised (to retry)."""
    run = ReportRun.objects.select_related("schedule").get(pk=run_id)
    if run.status != ReportRun.Status.DONE or not run.schedule:
        return []
    for address in run.schedule.recipients:
        ReportDelivery.objects.get_or_create(run=run, recipient=address)
    failure: Exception | None = None
    for delivery in run.deliveries.exclude(status=ReportDelivery.Status.SENT):
        message = EmailMessage(
            subject=f"[obsportal] {run.framework} report {run.since:%Y-%m-%d}..{run.until:%Y-%m-%d}"
            f" ready (run {run.pk})",
            body=message_body(run),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[delivery.recipient],
        )
        for name in _attachments(run):
            message.attach_file(str(report_dir(run) / name))
        delivery.attempts += 1
        details = {"run": run.pk, "framework": run.framework, "attempt": delivery.attempts}
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # SMTP, socket, TLS: all retried by the task
            delivery.status, delivery.error = (
                ReportDelivery.Status.FAILED,
                f"{type(exc).__name__}: {exc}",
            )
            delivery.save()
            record_trail(
                "report.email", result="failure", resource=f"report-run:{run.pk}",
                details={**details, "error": delivery.error[:200]},
                personal={"recipient": delivery.recipient},
            )  # fmt: skip
            failure = failure or exc
            continue
        delivery.status, delivery.error, delivery.sent_at = (
            ReportDelivery.Status.SENT,
            "",
            timezone.now(),
        )
        delivery.save()
        record_trail(
            "report.email", resource=f"report-run:{run.pk}", details=details,
            personal={"recipient": delivery.recipient},
        )  # fmt: skip
    if failure:
        raise failure
    return list(run.deliveries.all())
