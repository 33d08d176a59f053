"""How a reader's scope (accounts.scope) narrows the integrity pages and their API: a
scoped auditor meets only the streams of its agents, the checkpoints that sign them and
the verify-now requests about them; the portal's own trail only with trail.read."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from obsportal.accounts.permissions import access_of, visible_streams
from obsportal.accounts.roles import Capability
from obsportal.ingest.models import (
    Stream,
)
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointHead,
)


def trail_agent() -> str:
    from django.conf import settings

    return settings.OBSPORTAL_TRAIL_AGENT_ID


def scoped_by_agent(rows: QuerySet, user: Any, agent_field: str) -> QuerySet:
    """Rows whose agent the user may read (the portal's own trail only with trail.read)."""
    access = access_of(user)
    rows = access.scope.filter_agents(rows, agent_field)
    if not access.can(Capability.TRAIL_READ):
        rows = rows.exclude(**{agent_field: trail_agent()})
    return rows


def sees_everything(user: Any) -> bool:
    return access_of(user).scope.unlimited


class InvalidFilter(ValueError):
    """A filter value that is not one of the allowed; `errors` maps field to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def stream_in_scope(user: Any, stream_id: str) -> bool:
    return visible_streams(Stream.objects.filter(pk=stream_id), user).exists()


def visible_checkpoints(user: Any) -> QuerySet[Checkpoint]:
    """Checkpoints the user may read: all of them, or for a scoped auditor those that sign a
    head of one of its streams, issued within its period (and the first one after it, which
    seals the period's end)."""
    checkpoints = Checkpoint.objects.all()
    scope = access_of(user).scope
    if scope.unlimited:
        return checkpoints
    in_scope_heads = CheckpointHead.objects.filter(
        checkpoint=OuterRef("pk"),
        stream_id__in=visible_streams(Stream.objects.all(), user).values("id"),
    )
    checkpoints = checkpoints.filter(Exists(in_scope_heads))
    if scope.since is not None:
        checkpoints = checkpoints.filter(issued_at__gte=scope.since)
    if scope.until is not None:
        sealing = (
            checkpoints.filter(issued_at__gte=scope.until).order_by("issued_at").values("pk")[:1]
        )
        checkpoints = checkpoints.filter(Q(issued_at__lt=scope.until) | Q(pk__in=sealing))
    return checkpoints


def checkpoint_heads_for(user: Any, checkpoint: Checkpoint) -> QuerySet[CheckpointHead]:
    """The heads a checkpoint signs that the user may see (all of them, unscoped)."""
    heads = checkpoint.heads.order_by("leaf_index")
    if sees_everything(user) and access_of(user).can(Capability.TRAIL_READ):
        return heads
    return heads.filter(stream_id__in=visible_streams(Stream.objects.all(), user).values("id"))


def visible_verification_requests(user: Any) -> QuerySet:
    """Verify-now requests of the user's streams (the all-stream ones to unscoped readers)."""
    from obsportal.integrity.models import VerificationRequest

    rows = VerificationRequest.objects.select_related("run", "requested_by")
    if sees_everything(user) and access_of(user).can(Capability.TRAIL_READ):
        return rows
    return rows.filter(stream_id__in=visible_streams(Stream.objects.all(), user).values("id"))
