"""Roles and what they may do: ROLE_CAPABILITIES is the one table every check reads.

Pages (`capability_required`), the API (`HasCapability`) and the navigation look a
capability up here; nothing else grants access. A user holds at most one role; an
agent is not a user and holds its ingest credential only.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    COMPLIANCE_OFFICER = "compliance_officer"
    AUDITOR = "auditor"
    AGENT = "agent"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Capability(StrEnum):
    EVENTS_READ = "events.read"
    STREAMS_READ = "streams.read"
    EVIDENCE_EXPORT = "evidence.export"
    REPORTS_RUN = "reports.run"
    RETENTION_READ = "retention.read"
    RETENTION_MANAGE = "retention.manage"
    HOLDS_MANAGE = "holds.manage"
    SUBJECTS_EXPORT = "subjects.export"
    SUBJECTS_ERASE = "subjects.erase"
    # Read the requests (kind, deadline, status, receipt counts), not the person's data.
    SUBJECTS_READ = "subjects.read"
    USERS_MANAGE = "users.manage"
    CREDENTIALS_MANAGE = "credentials.manage"
    TRAIL_READ = "trail.read"
    API_SCHEMA = "api.schema"
    INGEST_WRITE = "ingest.write"
    # Personal data of an event (its erasable sidecar) in clear, on the event page.
    PII_READ = "pii.read"
    # The results of an event search, exported as CSV or JSON.
    EVENTS_EXPORT = "events.export"
    # "Verify now": queue a verification run (a job on the worker), not a read.
    INTEGRITY_VERIFY = "integrity.verify"
    # Name the addresses a scheduled report is emailed to: the report then leaves the portal.
    REPORTS_EMAIL = "reports.email"
    # Put on record that an integrity incident was looked at, and what was done about it.
    INCIDENTS_ACKNOWLEDGE = "incidents.acknowledge"


_READ = frozenset(
    {
        Capability.EVENTS_READ,
        Capability.STREAMS_READ,
        Capability.EVIDENCE_EXPORT,
        Capability.REPORTS_RUN,
        Capability.TRAIL_READ,
        Capability.API_SCHEMA,
        Capability.EVENTS_EXPORT,
        # Policies, holds, plans and runs, read-only: an auditor checks what is kept and why.
        Capability.RETENTION_READ,
    }
)

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    # Operates the portal: users, credentials, retention. Data-subject requests are the
    # compliance officer's: an operator reading one person's data needs no such right.
    Role.ADMINISTRATOR: _READ
    | {
        Capability.RETENTION_MANAGE,
        Capability.HOLDS_MANAGE,
        Capability.USERS_MANAGE,
        Capability.CREDENTIALS_MANAGE,
        Capability.INTEGRITY_VERIFY,
        Capability.INCIDENTS_ACKNOWLEDGE,
        Capability.REPORTS_EMAIL,
    },
    Role.COMPLIANCE_OFFICER: _READ
    | {
        Capability.RETENTION_MANAGE,
        Capability.HOLDS_MANAGE,
        Capability.SUBJECTS_EXPORT,
        Capability.SUBJECTS_ERASE,
        Capability.PII_READ,
        Capability.INTEGRITY_VERIFY,
        Capability.INCIDENTS_ACKNOWLEDGE,
        Capability.SUBJECTS_READ,
        Capability.REPORTS_EMAIL,
    },
    # Read-only; an assignment may narrow it to some agents and a period (RoleAssignment).
    # An auditor checks that requests are answered in time (subjects.read), but neither
    # exports a person's data nor erases it.
    Role.AUDITOR: _READ | {Capability.SUBJECTS_READ},
    Role.AGENT: frozenset({Capability.INGEST_WRITE}),
}

# Roles a person may hold; the agent role belongs to ingest credentials.
USER_ROLES = (Role.ADMINISTRATOR, Role.COMPLIANCE_OFFICER, Role.AUDITOR)
# Only an auditor's assignment may be scoped to agents and a period.
SCOPABLE_ROLES = frozenset({Role.AUDITOR})


def capabilities_of(role: Role | str | None) -> frozenset[Capability]:
    if role is None:
        return frozenset()
    return ROLE_CAPABILITIES.get(Role(role), frozenset())


def roles_with(capability: Capability) -> frozenset[Role]:
    return frozenset(role for role, caps in ROLE_CAPABILITIES.items() if capability in caps)
