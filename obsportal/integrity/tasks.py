"""Celery beat jobs: sign a checkpoint, verify every stream (thin shells around services)."""

from __future__ import annotations

from celery import shared_task

from obsportal.integrity import checkpoints, exports, verification, verify_now


@shared_task(name="obsportal.integrity.tasks.sign_checkpoint", acks_late=True)
def sign_checkpoint() -> dict:
    checkpoint = checkpoints.sign_checkpoint()
    return {"checkpoint": checkpoint.number, "tree_size": checkpoint.tree_size}


# Acknowledged on receipt: a full walk can outlast the broker's visibility
# timeout, and a run lost with its worker is simply repeated by the next beat.
@shared_task(name="obsportal.integrity.tasks.verify_streams", acks_late=False)
def verify_streams() -> dict:
    run = verification.verify_streams(trigger="schedule")
    return {"run": run.pk, "status": run.status, "events_checked": run.events_checked}


# Acknowledged late: a bundle lost with its worker is rebuilt from the job row.
@shared_task(name="obsportal.integrity.tasks.build_evidence_export", acks_late=True)
def build_evidence_export(export_id: int) -> dict:
    export = exports.build_export(export_id)
    return {"export": export.pk, "status": export.status, "events": export.events_written}


# Acknowledged on receipt, as the scheduled run: a run lost with its worker leaves its
# request "running" with the events walked so far, and the officer asks again.
@shared_task(name="obsportal.integrity.tasks.run_verification_request", acks_late=False)
def run_verification_request(request_id: int) -> dict:
    request = verify_now.run_request(request_id)
    return {"request": request.pk, "status": request.status, "run": request.run_id}
