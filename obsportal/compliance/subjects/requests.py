"""Receiving a data-subject request and extending its deadline, each on the trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from obsportal.compliance.models import SubjectRequest
from obsportal.compliance.subjects.deadlines import extended_deadline, initial_deadline
from obsportal.compliance.subjects.trail import record_trail, request_details
from obsportal.ingest.subjects import subject_key
from obsportal.trail.services import actor_name


class RequestRefused(Exception):
    """A request that cannot be made or changed as asked; the message says why."""


def create_request(
    *,
    kind: str,
    identifier: str,
    framework: str | None = None,
    legal_ground: str = "",
    received_at: datetime | None = None,
    actor: Any = None,
) -> SubjectRequest:
    """Record a request and its deadline, on the trail in the same transaction."""
    if kind not in SubjectRequest.Kind.values:
        raise RequestRefused(f"{kind!r} is not a kind of request")
    identifiers = split_identifiers(identifier)
    if not identifiers:
        raise RequestRefused("a request names its data subject (one identifier or more)")
    if framework is None:
        framework = "hipaa" if kind == SubjectRequest.Kind.ACCOUNTING else "gdpr"
    if framework not in SubjectRequest.Framework.values:
        raise RequestRefused(f"{framework!r} is not a framework of subject requests")
    if kind == SubjectRequest.Kind.ERASURE and not legal_ground.strip():
        raise RequestRefused("an erasure names its legal ground (e.g. Art. 17(1)(a))")
    received = received_at or timezone.now()
    with transaction.atomic():
        request = SubjectRequest.objects.create(
            kind=kind,
            framework=framework,
            identifier=", ".join(identifiers),
            subject_key=subject_key(identifiers[0]),
            subject_keys=sorted({subject_key(i) for i in identifiers}),
            legal_ground=legal_ground.strip(),
            received_at=received,
            due_at=initial_deadline(framework, received),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record_trail(
            "subject.request",
            actor=actor_name(actor),
            resource=f"subject_request:{request.id}",
            details={**request_details(request), "legal_ground": request.legal_ground},
        )
    return request


def split_identifiers(text: str) -> list[str]:
    """The identifiers of one person, given comma- or newline-separated."""
    seen: list[str] = []
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def keys_of(request: SubjectRequest) -> list[str]:
    return list(request.subject_keys) or [request.subject_key]


def extend_request(request: SubjectRequest, reason: str, actor: Any = None) -> SubjectRequest:
    """Extend the deadline once (GDPR by two months, HIPAA by 30 days), with a reason."""
    if request.extended_due_at is not None:
        raise RequestRefused(f"request {request.reference} was extended already")
    if not reason.strip():
        raise RequestRefused("an extension states its reason (GDPR Art. 12(3), HIPAA 164.528)")
    if request.status == SubjectRequest.Status.COMPLETED:
        raise RequestRefused(f"request {request.reference} is completed")
    with transaction.atomic():
        request.extended_due_at = extended_deadline(request.framework, request.due_at)
        request.extension_reason = reason.strip()
        request.save(update_fields=["extended_due_at", "extension_reason"])
        record_trail(
            "subject.extend",
            actor=actor_name(actor),
            resource=f"subject_request:{request.id}",
            details={**request_details(request), "reason": request.extension_reason},
        )
    return request
