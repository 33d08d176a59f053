"""Celery jobs: build a report run; queue the scheduled ones (thin shells around services)."""

from __future__ import annotations

from celery import shared_task

from obsportal.compliance.reports import build, delivery, services


# Acknowledged late: a report lost with its worker is rebuilt from its row.
@shared_task(name="obsportal.compliance.reports.tasks.build_report", acks_late=True)
def build_report_task(run_id: int) -> dict:
    run = build.build_report(run_id)
    if run.status == run.Status.DONE and run.schedule and run.schedule.recipients:
        deliver_report_task.delay(run.pk)  # its own retries: a down SMTP server rebuilds nothing
    return {"run": run.pk, "status": run.status}


@shared_task(name="obsportal.compliance.reports.tasks.run_due_schedules", acks_late=False)
def run_due_schedules() -> dict:
    return {"queued": [run.pk for run in services.run_due_schedules()]}


# Retried with backoff while the SMTP server is down; sent rows are skipped on a redelivery.
@shared_task(
    name="obsportal.compliance.reports.tasks.deliver_report",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def deliver_report_task(run_id: int) -> dict:
    return {"run": run_id, "sent": [d.status for d in delivery.deliver_run(run_id)]}
