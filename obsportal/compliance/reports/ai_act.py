"""EU AI Act (Regulation (EU) 2024/1689), for AI agents: logging (Art. 12), log retention
(Art. 19, 26(6)), deployer monitoring and human oversight (Art. 26(5), 14), serious incidents
(Art. 73)."""

from __future__ import annotations

from obsportal.compliance.reports.base import (
    FORKS,
    INCIDENT_EVENTS,
    Breakdown,
    Control,
    Framework,
    Population,
    Section,
)

F = "EU AI Act"
NIST = "NIST AI RMF"

LOGGING = Section(
    key="logging",
    title="What is logged per agent",
    controls=(
        Control(F, "Art. 12(1)", "automatic recording of events"),
        Control(F, "Art. 12(2)(a)-(c)", "risk, post-market and deployer monitoring"),
        Control("ISO/IEC 42001", "A.6.2.8", "AI system recording of event logs"),
    ),
    shows=(
        "Per agent, each action it logged with counts and results; the chain coverage of every "
        "stream is in the header."
    ),
    breakdowns=(
        Breakdown(
            "actions_by_agent",
            "Events by agent, action and result",
            {},
            ("agent_id", "action", "result"),
        ),
    ),
)

RETENTION = Section(
    key="retention",
    title="Log retention against the six-month floor",
    controls=(
        Control(F, "Art. 19(1)", "providers keep logs at least six months"),
        Control(F, "Art. 26(6)", "deployers keep logs at least six months"),
    ),
    shows=(
        "Retention policies against the configured six-month floor, and the oldest record each "
        "stream still holds."
    ),
    statements=("retention_status", "oldest_records"),
)

OVERSIGHT = Section(
    key="oversight",
    title="Deployer monitoring and human oversight",
    controls=(
        Control(F, "Art. 26(5)", "deployer monitoring"),
        Control(F, "Art. 14", "human oversight"),
        Control(NIST, "MANAGE 4.1", "post-deployment monitoring, override"),
    ),
    shows=(
        "Permission requests (the points where a person or a policy decides), those denied, and "
        "errors and failures of agents' actions."
    ),
    populations=(
        Population(
            "permission_requests", "Permission requests", "events", {"action": "permission_request"}
        ),
        Population(
            "permission_denied",
            "Permission requests denied",
            "events",
            {"action": "permission_request", "result": "denied"},
        ),
        Population("failures", "Actions that failed", "events", {"result": "failure"}),
        Population("errors", "Actions that ended in error", "events", {"result": "error"}),
    ),
    breakdowns=(
        Breakdown(
            "denied_by_agent",
            "Denials by agent and user",
            {"result": "denied"},
            ("agent_id", "user_id"),
        ),
    ),
    limits=(
        "Whether a denial was a person's override or a policy's is what the agent recorded in "
        "details."
    ),
)

INCIDENTS = Section(
    key="serious_incidents",
    title="Serious-incident register",
    controls=(
        Control(F, "Art. 73(2)-(4)", "reporting serious incidents: 15, 10 and 2 days"),
        Control(NIST, "MANAGE 4.3", "incidents communicated"),
    ),
    shows="Incidents recorded in the period with the 2-, 10- and 15-day marks from detection.",
    populations=(FORKS, INCIDENT_EVENTS),
    statements=("incident_clocks",),
    limits=(
        "Whether an incident is serious (Art. 3(49)) and its causal link are judged outside the "
        "portal."
    ),
)


def framework() -> Framework:
    return Framework(
        key="ai_act",
        title="EU AI Act (agents)",
        summary="Logging, log retention, deployer monitoring and oversight, serious incidents.",
        sections=(LOGGING, RETENTION, OVERSIGHT, INCIDENTS),
    )
