"""Access and accounting exports: recorded on the trail, then built by a Celery job."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from obsportal.compliance.models import SubjectRequest
from obsportal.compliance.subjects.records import disclosures, subject_data
from obsportal.compliance.subjects.requests import RequestRefused, keys_of
from obsportal.compliance.subjects.trail import record_trail, request_details
from obsportal.ingest.envelope import format_ts
from obsportal.trail.services import actor_name


def request_export(request: SubjectRequest, actor: Any = None) -> SubjectRequest:
    """Record the export on the trail, then queue its build once committed."""
    from obsportal.compliance.tasks import build_subject_export

    if request.kind not in (SubjectRequest.Kind.ACCESS, SubjectRequest.Kind.ACCOUNTING):
        raise RequestRefused(f"request {request.reference} is an erasure: nothing to export")
    with transaction.atomic():
        record_trail(
            "subject.export",
            actor=actor_name(actor),
            resource=f"subject_request:{request.id}",
            details=request_details(request),
        )
        SubjectRequest.objects.filter(pk=request.pk).update(
            status=SubjectRequest.Status.IN_PROGRESS
        )
        transaction.on_commit(lambda: build_subject_export.delay(str(request.pk)))
    request.refresh_from_db()
    return request


def build_export(request_id: str) -> SubjectRequest:
    """Build the JSON, CSV and PDF of an access or accounting request (the Celery job)."""
    from obsportal.compliance.renderers import subject_export as renderers

    request = SubjectRequest.objects.get(pk=request_id)
    if request.status == SubjectRequest.Status.COMPLETED and request.files:
        return request  # a redelivered task
    try:
        content = export_content(request)
        request.files = renderers.write_all(request, content)
        request.outcome = {
            "events": len(content.get("events", [])),
            "disclosures": len(content.get("disclosures", [])),
            "consultations": len(content.get("consultations", [])),
        }
        request.status = SubjectRequest.Status.COMPLETED
        request.completed_at = timezone.now()
    except Exception as exc:
        request.status, request.error = SubjectRequest.Status.FAILED, f"{type(exc).__name__}: {exc}"
        request.save()
        raise
    request.save()
    return request


def export_content(request: SubjectRequest) -> dict[str, Any]:
    cover = {
        "request": str(request.id),
        "reference": request.reference,
        "kind": request.kind,
        "framework": request.framework,
        "subject": request.identifier,
        "received_at": format_ts(request.received_at),
        "due": format_ts(request.deadline),
        "generated_at": format_ts(timezone.now()),
        "controller": getattr(settings, "OBSPORTAL_CONTROLLER_NAME", "the portal's operator"),
    }
    if request.kind == SubjectRequest.Kind.ACCOUNTING:
        return {"cover": cover, "disclosures": disclosures(keys_of(request))}
    return {"cover": cover, **subject_data(keys_of(request))}
