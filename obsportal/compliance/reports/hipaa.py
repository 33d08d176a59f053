"""HIPAA Security Rule: audit controls, activity review, ePHI access, disclosures, retention.

Which resources hold ePHI, and which are disclosures, the portal cannot know: they are
declared in settings (OBSPORTAL_REPORT_EPHI_RESOURCES, OBSPORTAL_REPORT_DISCLOSURE_RESOURCES).
"""

from __future__ import annotations

from django.conf import settings

from obsportal.compliance.reports.base import (
    EVENTS_BY_AGENT,
    TRAIL,
    Breakdown,
    Control,
    Framework,
    Population,
    Section,
    trail_events,
)
from obsportal.compliance.reports.soc2 import MONITORING

F = "HIPAA"

DEFAULT_EPHI = ("ehr://patients/1042",)
DEFAULT_DISCLOSURES = ("smtp://outbound",)

REVIEW_ACTIONS = ("events.search", "event.open", "streams.view", "stream.open", "evidence.download")


def _resources(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(getattr(settings, name, default))


def framework() -> Framework:
    ephi = _resources("OBSPORTAL_REPORT_EPHI_RESOURCES", DEFAULT_EPHI)
    disclosures = _resources("OBSPORTAL_REPORT_DISCLOSURE_RESOURCES", DEFAULT_DISCLOSURES)
    audit_controls = Section(
        key="audit_controls",
        title="Audit controls coverage",
        controls=(Control(F, "164.312(b)", "audit controls"), *MONITORING.controls[2:]),
        shows=(
            "Which agents recorded activity, what they recorded, and the verification runs over "
            "it (chain coverage is in the header)."
        ),
        populations=MONITORING.populations[:3],
        breakdowns=(EVENTS_BY_AGENT,),
    )
    review = Section(
        key="activity_review",
        title="Information system activity review",
        controls=(Control(F, "164.308(a)(1)(ii)(D)", "information system activity review"),),
        shows=(
            "Who reviewed what, and when: searches, opened events, stream and integrity pages, "
            "evidence downloads, from the portal's own trail."
        ),
        populations=tuple(
            trail_events(f"review_{a.replace('.', '_')}", f"Reviews: {a}", a)
            for a in REVIEW_ACTIONS
        ),
        breakdowns=tuple(
            Breakdown(
                f"reviewers_{a.replace('.', '_')}",
                f"{a} by reviewer",
                {"agent_id": TRAIL, "action": a},
                ("user_id",),
            )
            for a in REVIEW_ACTIONS[:2]
        ),
        limits=(
            "A review's findings and sign-off are not recorded by the portal; only that the "
            "records were read."
        ),
    )
    access = Section(
        key="ephi_access",
        title="ePHI access by agent and user",
        controls=(
            Control(F, "164.312(b)", "audit controls"),
            Control(F, "164.308(a)(1)(ii)(D)", "activity review"),
        ),
        shows=(
            "Every event on a resource declared to hold ePHI, by agent and by the user on whose "
            "behalf it acted."
        ),
        populations=tuple(
            Population(f"ephi_{i}", f"Events on {r}", "events", {"resource": r})
            for i, r in enumerate(ephi)
        ),
        breakdowns=tuple(
            Breakdown(
                f"ephi_{i}_by_agent_user",
                f"{r} by agent and user",
                {"resource": r},
                ("agent_id", "user_id"),
            )
            for i, r in enumerate(ephi)
        ),
        limits="Only the declared ePHI resources are counted.",
    )
    disclosed = Section(
        key="disclosures",
        title="Accounting of disclosures",
        controls=(Control(F, "164.528", "accounting of disclosures of PHI"),),
        shows=(
            "Every successful event on a resource declared as a disclosure (date, recipient "
            "resource, user, agent)."
        ),
        populations=tuple(
            Population(
                f"disclosure_{i}",
                f"Disclosures to {r}",
                "events",
                {"resource": r, "result": "success"},
            )
            for i, r in enumerate(disclosures)
        ),
        limits=(
            "Exclusions of 164.528(a)(1) (treatment, payment, operations) are not classified by "
            "the portal."
        ),
    )
    retention = Section(
        key="retention",
        title="Retention of six years",
        controls=(Control(F, "164.316(b)(2)", "retain documentation six years"),),
        shows=(
            "The oldest record kept per stream, and the retention policies against the six-year "
            "floor."
        ),
        statements=("retention_status", "oldest_records"),
        limits=(
            "Six years applies to documentation; applying it to agents' events is practice, not "
            "text."
        ),
    )
    return Framework(
        key="hipaa",
        title="HIPAA Security Rule",
        summary="Audit controls, activity review, ePHI access, disclosures, retention.",
        sections=(audit_controls, review, access, disclosed, retention),
    )
