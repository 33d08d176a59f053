"""The demo's data-subject requests: an access export for one demo user and an erasure for
another, so that the portal's Subject requests page, the PDF and the verification's
"erased under R" are there to see after `manage.py demo`. Idempotent: a rerun reuses them."""

from __future__ import annotations

from dataclasses import dataclass

from obsportal.compliance.models import AgentDeclaration, SubjectRequest
from obsportal.compliance.subjects import declarations, exports, requests
from obsportal.compliance.subjects.erasure import erase_subject
from obsportal.demo.agent import USERS

ACCESS_SUBJECT = USERS[2]  # carol
ERASURE_SUBJECT = USERS[1]  # bob
ERASURE_GROUND = "Art. 17(1)(a): no longer necessary for the purpose (demo)"


@dataclass
class DemoRequests:
    access: SubjectRequest
    erasure: SubjectRequest


def _existing(kind: str, identifier: str) -> SubjectRequest | None:
    return SubjectRequest.objects.filter(
        kind=kind, identifier=identifier, status=SubjectRequest.Status.COMPLETED
    ).first()


def run_subject_requests(agent_id: str) -> DemoRequests:
    """Declare the demo agent's processing, answer an access request and an erasure."""
    if not AgentDeclaration.objects.filter(agent_id=agent_id).exists():
        declarations.declare_processing(
            {
                "agent_id": agent_id,
                "purposes": ["answering customer support requests"],
                "recipients": ["the e-mail provider (processor)", "the LLM provider (processor)"],
                "categories": ["contact data", "request contents"],
                "legal_basis": "GDPR Art. 6(1)(b): performance of a contract",
                "retention_floor_days": 0,
                "floor_source": "",
            }
        )
    access = _existing("access", ACCESS_SUBJECT)
    if access is None:
        access = requests.create_request(kind="access", identifier=ACCESS_SUBJECT)
        exports.request_export(access)
        access = exports.build_export(str(access.pk))  # idempotent if a worker built it
    erasure = _existing("erasure", ERASURE_SUBJECT)
    if erasure is None:
        erasure = requests.create_request(
            kind="erasure", identifier=ERASURE_SUBJECT, legal_ground=ERASURE_GROUND
        )
        erasure = erase_subject(erasure)
    return DemoRequests(access=access, erasure=erasure)
