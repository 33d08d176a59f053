"""Agents' records of processing (GDPR Art. 30): declared on the trail, read by exports and
erasure (a declared statutory floor keeps values from erasure)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from obsportal.compliance.models import AgentDeclaration
from obsportal.compliance.subjects.trail import record_trail
from obsportal.trail.services import actor_name


def declare_processing(values: dict[str, Any], actor: Any = None) -> AgentDeclaration:
    """Declare (or replace) an agent's record of processing (GDPR Art. 30), on the trail."""
    with transaction.atomic():
        declared, created = AgentDeclaration.objects.update_or_create(
            agent_id=values["agent_id"],
            defaults={k: v for k, v in values.items() if k != "agent_id"},
        )
        record_trail(
            "declaration.change",
            actor=actor_name(actor),
            resource=f"agent:{declared.agent_id}",
            details={
                "created": created,
                "purposes": declared.purposes,
                "recipients": declared.recipients,
                "categories": declared.categories,
                "legal_basis": declared.legal_basis,
                "retention_floor_days": declared.retention_floor_days,
                "floor_source": declared.floor_source,
            },
        )
    return declared


def declarations_of(agent_ids: set[str]) -> dict[str, AgentDeclaration]:
    return {d.agent_id: d for d in AgentDeclaration.objects.filter(agent_id__in=agent_ids)}


def declaration_dict(agent_id: str, d: AgentDeclaration | None) -> dict[str, Any]:
    if d is None:
        return {"agent_id": agent_id, "declared": False}
    return {
        "agent_id": agent_id,
        "declared": True,
        "purposes": d.purposes,
        "recipients": d.recipients,
        "categories": d.categories,
        "legal_basis": d.legal_basis,
        "retention": (
            f"{d.retention_floor_days} days ({d.floor_source})" if d.retention_floor_days else ""
        ),
    }
