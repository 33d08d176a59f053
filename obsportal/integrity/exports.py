"""Evidence exports as jobs: recorded when requested, built by a Celery task into a file.

The request is checked at once (a reversed range, an unknown agent, an empty
selection are refused with a sentence); the task plans the bundle, streams it
into `OBSPORTAL_EXPORT_DIR` with flat memory, and counts its progress on the row.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from obsportal.ingest.models import AuditEvent, Stream
from obsportal.integrity.evidence import (
    BundleRefused,
    NothingToBundle,
    plan_bundle,
    write_bundle,
)
from obsportal.integrity.models import EvidenceExport

# Progress is written to the row at most this often.
PROGRESS_EVERY_S = 1.0


def check_query(agent_id: str, since: datetime | None, until: datetime | None) -> None:
    """Refuse, before any work, a query whose bundle could prove nothing."""
    if since and until and since >= until:
        raise BundleRefused(f"the range is reversed or empty: since {since} is not before {until}")
    if not Stream.objects.filter(agent_id=agent_id).exists():
        raise NothingToBundle(f"there is no agent {agent_id!r}: no stream of it was ever admitted")
    query = AuditEvent.objects.filter(agent_id=agent_id)
    if since:
        query = query.filter(ts__gte=since)
    if until:
        query = query.filter(ts__lt=until)
    if not query.exists():
        raise NothingToBundle(f"the query selects no event of agent {agent_id!r} in that range")


def request_export(
    agent_id: str, since: datetime | None, until: datetime | None, user=None
) -> EvidenceExport:
    """Record the request, then queue its build once the row is committed."""
    from obsportal.integrity.tasks import build_evidence_export

    check_query(agent_id, since, until)
    export = EvidenceExport.objects.create(
        agent_id=agent_id, since=since, until=until, requested_by=user
    )
    transaction.on_commit(lambda: build_evidence_export.delay(export.pk))
    return export


def export_path(export: EvidenceExport) -> Path:
    return Path(settings.OBSPORTAL_EXPORT_DIR) / f"evidence-{export.pk:08d}.jsonl"


def build_export(export_id: int) -> EvidenceExport:
    """Plan and write the bundle of one export job; a refusal or failure is kept on the row."""
    export = EvidenceExport.objects.get(pk=export_id)
    if export.status == EvidenceExport.Status.DONE:
        return export  # a redelivered task
    export.status = EvidenceExport.Status.RUNNING
    export.save(update_fields=["status"])
    path = export_path(export)
    partial = path.with_suffix(".partial")
    try:
        plan = plan_bundle(export.agent_id, export.since, export.until)
        export.events_total, export.selected = plan.events, plan.selected
        export.save(update_fields=["events_total", "selected"])
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            write_bundle(plan, out, progress=_progress(export))
        os.replace(partial, path)
    except BundleRefused as exc:
        export.status, export.error = EvidenceExport.Status.REFUSED, str(exc)
    except Exception as exc:
        export.status, export.error = EvidenceExport.Status.FAILED, f"{type(exc).__name__}: {exc}"
        partial.unlink(missing_ok=True)
        raise
    else:
        export.status, export.file_name = EvidenceExport.Status.DONE, path.name
        export.size_bytes = path.stat().st_size
        export.events_written = export.events_total
    finally:
        export.finished_at = timezone.now()
        export.save()
    return export


def _progress(export: EvidenceExport):
    last = [time.monotonic()]

    def advance(events: int) -> None:
        export.events_written += events
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            EvidenceExport.objects.filter(pk=export.pk).update(events_written=export.events_written)

    return advance
