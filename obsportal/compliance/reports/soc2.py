"""SOC 2 (TSC 2017, points of focus 2022): access, external access, monitoring, incidents, change.

Control ids and short titles only: the criteria texts are AICPA's (COMPLIANCE.md §6).
"""

from __future__ import annotations

from django.conf import settings

from obsportal.compliance.reports.base import (
    FORKS,
    INCIDENT_EVENTS,
    Breakdown,
    Control,
    Framework,
    Population,
    Section,
    trail_events,
)

F = "SOC 2"
NIST = "NIST AI RMF"


def change_actions() -> tuple[str, ...]:
    """The actions agents record when their configuration, model, prompt or policy changes."""
    return tuple(getattr(settings, "OBSPORTAL_REPORT_CHANGE_ACTIONS", DEFAULT_CHANGE_ACTIONS))


DEFAULT_CHANGE_ACTIONS = ("config_change", "model_change", "prompt_change", "policy_change")

ACCESS = Section(
    key="access",
    title="Access and provisioning",
    controls=(
        Control(F, "CC6.1", "logical access security"),
        Control(F, "CC6.2", "registration and removal of users and credentials"),
        Control(F, "CC6.3", "role-based access, least privilege, segregation of duties"),
    ),
    shows=(
        "Portal roles and live agent credentials at the period's end; every credential issued, "
        "rotated and revoked, every user created or deactivated and every role change in the "
        "period; role changes a person made to their own account, as exceptions."
    ),
    populations=(
        Population(
            "credentials_at_end", "Agent credentials live at the period's end", "credentials_at_end"
        ),
        Population("roles", "Portal role assignments (as stored when the report ran)", "roles_now"),
        trail_events("credential_issued", "Credentials issued", "credential.issue"),
        trail_events("credential_rotated", "Credentials rotated", "credential.rotate"),
        trail_events("credential_revoked", "Credentials revoked", "credential.revoke"),
        trail_events("user_created", "Users created", "user.create"),
        trail_events("user_deactivated", "Users deactivated", "user.deactivate"),
        trail_events("role_changes", "Role changes", "role.assign"),
        trail_events(
            "self_approved",
            "Role changes made by the person whose role changed",
            "role.assign",
            exception=True,
            predicate="self_approved",
        ),
    ),
    limits=(
        "Approvals outside the portal (tickets, HR systems) are not seen; a role held before the "
        "period and unchanged appears in the role list only. The role list is as stored when the "
        "report ran, not reconstructed at the period's end."
    ),
)

EXTERNAL = Section(
    key="external_access",
    title="External access and denials",
    controls=(Control(F, "CC6.6", "logical access measures against threats from outside"),),
    shows=(
        "Failed portal logins, ingest batches refused for a bad or revoked credential, and agent "
        "actions denied by policy."
    ),
    populations=(
        trail_events("failed_logins", "Failed portal logins", "auth.login_failed"),
        Population(
            "refused_credentials",
            "Ingest batches refused for a missing, unknown or revoked credential",
            "rejected_batches",
            {"reason_code": "bad_token"},
        ),
        Population("denied_actions", "Agent actions denied", "events", {"result": "denied"}),
    ),
    breakdowns=(
        Breakdown(
            "denied_by_agent",
            "Denied actions by agent and action",
            {"result": "denied"},
            ("agent_id", "action"),
        ),
    ),
    limits="Network-level refusals (firewall, TLS, rate limits at a proxy) are not in the portal.",
)

MONITORING = Section(
    key="monitoring",
    title="Monitoring and integrity",
    controls=(
        Control(F, "CC7.2", "monitoring of components for anomalies"),
        Control("HIPAA", "164.312(b)", "audit controls"),
        Control(NIST, "MEASURE 2.4", "functionality and behavior monitored in production"),
    ),
    shows=(
        "Verification runs over every stream and their results, checkpoints signed, and every "
        "stream a run found broken, forked or missing (exceptions)."
    ),
    populations=(
        Population("verification_runs", "Verification runs", "verification_runs"),
        Population("checkpoints", "Signed checkpoints", "checkpoints"),
        Population(
            "chain_problems",
            "Streams a run found broken, forked or missing",
            "stream_problems",
            exception=True,
        ),
        trail_events(
            "verification_events", "Verification results on the trail", "integrity.verification"
        ),
    ),
    limits=(
        "Alert rules and their dispositions live in Prometheus/Grafana and are not in this report."
    ),
)

INCIDENTS = Section(
    key="incidents",
    title="Incidents",
    controls=(
        Control(F, "CC7.3", "evaluation of security events"),
        Control(F, "CC7.4", "incident response"),
        Control(NIST, "MANAGE 4.3", "incidents tracked and documented"),
    ),
    shows=(
        "Integrity incidents the portal recorded in the period: forks (a different event offered "
        "at a stored seq) and checkpoint incidents, with the trail events that record them."
    ),
    populations=(
        FORKS,
        Population(
            "checkpoint_incidents", "Checkpoint incidents", "checkpoint_incidents", exception=True
        ),
        INCIDENT_EVENTS,
    ),
    statements=("incident_clocks",),
    limits=(
        "Triage, containment and communication of an incident happen outside the portal; the "
        "portal records detection only."
    ),
)


def _change_section() -> Section:
    agent_changes = tuple(
        Population(f"agent_{a}", f"Agent changes recorded as {a}", "events", {"action": a})
        for a in change_actions()
    )
    return Section(
        key="changes",
        title="Change log",
        controls=(
            Control(F, "CC8.1", "changes authorised, tested, approved, implemented"),
            Control("EU AI Act", "Art. 12(2)(a)", "logging for substantial modifications"),
        ),
        shows=(
            "Configuration, model, prompt and policy changes that agents record, the models each "
            "agent was observed calling, and portal access-policy changes (role assignments)."
        ),
        populations=(
            *agent_changes,
            trail_events("portal_role_changes", "Portal role changes", "role.assign"),
        ),
        breakdowns=(
            Breakdown(
                "models_observed",
                "LLM calls by agent and model",
                {"action": "llm_call"},
                ("agent_id", "details__model"),
            ),
        ),
        limits=(
            "A change an agent does not record is invisible here; approval-before-effect is not "
            "checked."
        ),
    )


def framework() -> Framework:
    return Framework(
        key="soc2",
        title="SOC 2 Type II",
        summary=(
            "Access, external access, monitoring and integrity, incidents and change (CC6 to CC8)."
        ),
        sections=(ACCESS, EXTERNAL, MONITORING, INCIDENTS, _change_section()),
    )
