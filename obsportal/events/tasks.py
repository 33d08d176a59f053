"""Celery task of the events app: build an export of a search (a thin shell)."""

from __future__ import annotations

from celery import shared_task

from obsportal.events import exports


# Acknowledged late: an export lost with its worker is rebuilt from its row.
@shared_task(name="obsportal.events.tasks.build_event_export", acks_late=True)
def build_event_export(export_id: int) -> dict:
    export = exports.build_event_export(export_id)
    return {"export": export.pk, "status": export.status, "rows": export.rows}
