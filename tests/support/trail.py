"""The portal's own trail as the database holds it, once this process's copy is stored."""

from __future__ import annotations

from django.conf import settings

from obsportal.ingest.models import AuditEvent
from obsportal.trail.services import flush_trail


def trail(action: str) -> list[AuditEvent]:
    """The trail events of `action`, in chain order (the background copy stored first)."""
    flush_trail()
    return list(
        AuditEvent.objects.filter(
            agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID, action=action
        ).order_by("seq")
    )
