"""Placing and releasing legal holds, on the trail (what a hold covers: `retention.holds`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from obsportal.ingest.subjects import subject_key
from obsportal.retention.models import LegalHold
from obsportal.retention.services.trail import RetentionRefused, actor_name, record_trail, via


def place_legal_hold(
    user: Any,
    *,
    name: str,
    reason: str,
    agents: list[str] | None = None,
    user_ids: list[str] | None = None,
    subject_keys: list[str] | None = None,
    subjects: list[str] | None = None,
    streams: list[str] | None = None,
    ts_from: datetime | None = None,
    ts_to: datetime | None = None,
) -> LegalHold:
    """Hold what the scope covers from pruning and erasure, on the trail. Takes effect at
    once: holding more never needs a second person.

    `subjects` are identifiers as a person gives them (an e-mail address, a user id): the
    hold keeps only their subject keys, so it covers the person wherever an event names
    them (user_id or an identifying detail) and the identifier itself is stored nowhere."""
    keys = [k.lower() for k in subject_keys or []]
    keys += [subject_key(identifier) for identifier in subjects or [] if identifier.strip()]
    scope = {
        "agents": list(agents or []),
        "user_ids": list(user_ids or []),
        "subject_keys": list(dict.fromkeys(keys)),
        "streams": list(streams or []),
    }
    if not any(scope.values()) and ts_from is None and ts_to is None:
        raise RetentionRefused(
            "a legal hold needs a scope: agents, users, subjects, streams or a period"
        )
    if not reason.strip() or not name.strip():
        raise RetentionRefused("a legal hold needs a name and a reason")
    with transaction.atomic():
        hold = LegalHold.objects.create(
            name=name,
            reason=reason,
            owner=user,
            placed_by=user,
            ts_from=ts_from,
            ts_to=ts_to,
            **scope,
        )
        # Users and subjects are personal data: in the erasable sidecar, not the hashed body.
        record_trail(
            "hold.place",
            actor=actor_name(user),
            resource=f"legalhold:{hold.pk}",
            details={
                "via": via(user),
                "name": name,
                "reason": reason,
                "agents": scope["agents"],
                "streams": scope["streams"],
                "users": len(scope["user_ids"]),
                "subjects": len(scope["subject_keys"]),
                "from": ts_from.isoformat() if ts_from else None,
                "to": ts_to.isoformat() if ts_to else None,
            },
            personal={
                "user_ids": scope["user_ids"] or None,
                "subject_keys": scope["subject_keys"] or None,
            },
        )
    return hold


def release_legal_hold(user: Any, hold: LegalHold, *, reason: str) -> LegalHold:
    """Release a hold; what it kept may go at the next approved run. Needs holds.manage;
    the person releasing is on the trail with the reason."""
    if not reason.strip():
        raise RetentionRefused("releasing a legal hold needs a reason")
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            raise RetentionRefused(f"legal hold {hold.pk} was released already")
        hold.released_at, hold.released_by, hold.release_reason = timezone.now(), user, reason
        hold.save()
        record_trail(
            "hold.release",
            actor=actor_name(user),
            resource=f"legalhold:{hold.pk}",
            details={"via": via(user), "name": hold.name, "reason": reason},
        )
    return hold
