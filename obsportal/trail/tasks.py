"""Beat's trail job: store what dead processes' trail journals hold (`trail.recovery`)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from obsportal.trail.recovery import recover_trail_journals


@shared_task(name="obsportal.trail.tasks.recover_trail", acks_late=False)
def recover_trail() -> dict[str, Any]:
    found = recover_trail_journals()
    return {"journals": found.journals, "recovered": found.recovered, "failed": found.failed}
