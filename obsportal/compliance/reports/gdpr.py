"""GDPR: observed processing (Art. 30), subject requests (Art. 15, 17), storage limitation
(Art. 5(1)(e)) and the 72-hour breach clock (Art. 33)."""

from __future__ import annotations

from obsportal.compliance.reports.base import (
    EVENTS_BY_AGENT,
    FORKS,
    INCIDENT_EVENTS,
    Control,
    Framework,
    Section,
)

F = "GDPR"

PROCESSING = Section(
    key="processing",
    title="Observed processing per agent",
    controls=(Control(F, "Art. 30(1)", "records of processing activities"),),
    shows=(
        "Per agent, the events recorded and the personal-data fields it committed (the keys of "
        "pii_commitments), to compare with the declared record of processing."
    ),
    breakdowns=(EVENTS_BY_AGENT,),
    statements=("observed_personal_fields",),
    limits=(
        "The portal holds no declared record of processing: compare this observed list with "
        "yours. Personal data an agent sends without committing it (in details) is not counted."
    ),
)

SUBJECTS = Section(
    key="subject_requests",
    title="Data-subject requests",
    controls=(
        Control(F, "Art. 15", "right of access"),
        Control(F, "Art. 17", "right to erasure"),
        Control(F, "Art. 12(3)", "one month to answer"),
    ),
    shows="Every access and erasure request of the period with its deadline and outcome.",
    statements=("subject_requests",),
    limits="Requests handled outside the portal are not listed.",
)

RETENTION = Section(
    key="retention",
    title="Retention status by class",
    controls=(
        Control(F, "Art. 5(1)(e)", "storage limitation"),
        Control(F, "Art. 30(1)(f)", "time limits for erasure"),
    ),
    shows=(
        "The retention policies, the oldest record each class still holds, records past their "
        "time (should be 0 or held), and pruned ranges."
    ),
    statements=("retention_status", "oldest_records"),
    limits="Copies outside the portal (journals on agents' hosts, backups) are not covered.",
)

BREACHES = Section(
    key="breaches",
    title="Incidents and the 72-hour clock",
    controls=(
        Control(F, "Art. 33", "notification of a personal data breach"),
        Control(F, "Art. 33(5)", "documentation of breaches"),
    ),
    shows="Integrity incidents of the period, each with the 72-hour mark from detection.",
    populations=(FORKS, INCIDENT_EVENTS),
    statements=("incident_clocks",),
    limits=(
        "Whether an incident is a personal-data breach, and when the authority was notified, is "
        "not recorded in the portal."
    ),
)


def framework() -> Framework:
    return Framework(
        key="gdpr",
        title="GDPR",
        summary="Processing observed, subject requests, storage limitation and breaches.",
        sections=(PROCESSING, SUBJECTS, RETENTION, BREACHES),
    )
