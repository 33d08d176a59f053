"""Celery jobs of subject requests (thin shells around obsportal.compliance.subjects)."""

from __future__ import annotations

from celery import shared_task

from obsportal.compliance.subjects import exports


# Acknowledged late: an export lost with its worker is rebuilt from the request row.
@shared_task(name="obsportal.compliance.tasks.build_subject_export", acks_late=True)
def build_subject_export(request_id: str) -> dict:
    request = exports.build_export(request_id)
    return {"request": str(request.pk), "status": request.status, "files": request.files}
