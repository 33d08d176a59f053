"""Computed statements of a section that are not populations: clocks, retention, fields observed.

Each returns a `Statement`: its rows, the query that made them, and a status. Retention and
subject requests come from the apps that own them: retention's floors, rules and count of
events past their policy (`obsportal.retention`), so the report says what retention itself
applies; subject requests through `obsportal.compliance.request_report`, and when that is not
installed the statement says so ("needs the subjects app") instead of printing a guess.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from obsportal.accounts.permissions import visible_events
from obsportal.compliance.reports.sources import Period, iso
from obsportal.events.selectors import events
from obsportal.ingest.models import IntegrityIncident
from obsportal.integrity.models import CheckpointIncident
from obsportal.retention.floors import floors
from obsportal.retention.models import Framework
from obsportal.retention.overdue import events_past_policy
from obsportal.retention.selectors import Rules

OK, EXCEPTIONS, NEEDS = "ok", "exceptions", "needs app"


@dataclass
class Statement:
    key: str
    title: str
    query: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    status: str = OK
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "query": self.query,
            "columns": self.columns,
            "rows": self.rows,
            "status": self.status,
            "note": self.note,
        }


# The clocks an incident starts, from detection (the earliest moment the portal knows of it).
CLOCKS = (
    ("GDPR Art. 33 (72 h)", timedelta(hours=72)),
    ("AI Act Art. 73(3) (2 days)", timedelta(days=2)),
    ("AI Act Art. 73(4) (10 days)", timedelta(days=10)),
    ("AI Act Art. 73(2) (15 days)", timedelta(days=15)),
)


def incident_clocks(period: Period, reader: Any) -> Statement:
    rows = []
    forks = IntegrityIncident.objects.filter(
        detected_at__gte=period.since, detected_at__lt=period.until
    ).order_by("detected_at", "id")
    ckpts = CheckpointIncident.objects.filter(
        detected_at__gte=period.since, detected_at__lt=period.until
    ).order_by("detected_at", "id")
    found = [(f"fork {f.stream_id}#{f.seq}", f.detected_at) for f in forks]
    found += [(f"checkpoint {c.checkpoint_number}: {c.kind}", c.detected_at) for c in ckpts]
    for what, detected in sorted(found, key=lambda pair: pair[1]):
        rows.append([what, iso(detected), *(iso(detected + delta) for _, delta in CLOCKS)])
    return Statement(
        "incident_clocks",
        "Incident clocks from detection",
        "IntegrityIncident and CheckpointIncident with detected_at in [since, until); "
        "each mark = detected_at + the period the article allows",
        ["incident", "detected at", *(name for name, _ in CLOCKS)],
        rows,
        EXCEPTIONS if rows else OK,
        "When the authority or the provider was notified is not recorded in the portal.",
    )


def oldest_records(period: Period, reader: Any) -> Statement:
    """The earliest record each stream still holds: the evidence a retention floor is met."""
    qs = (
        visible_events(events(), reader, "obsportal")
        .values("stream_id", "agent_id")
        .annotate(oldest=Min("ts"), first_seq=Min("seq"), events=Count("id"))
        .order_by("stream_id")
    )
    rows = [
        [r["stream_id"], r["agent_id"], iso(r["oldest"]), r["first_seq"], r["events"]] for r in qs
    ]
    return Statement(
        "oldest_records",
        "Oldest record each stream holds",
        str(qs.query),
        ["stream", "agent", "oldest ts", "first seq kept", "events kept"],
        rows,
    )


def observed_personal_fields(period: Period, reader: Any) -> Statement:
    """Which personal-data fields each agent committed in the period (pii_commitments keys)."""
    scoped = visible_events(events(), reader).filter(ts__gte=period.since, ts__lt=period.until)
    inner, params = scoped.values("id").query.sql_with_params()
    keys = (
        "jsonb_object_keys(e.pii_commitments) AS k(key)"
        if connection.vendor == "postgresql"
        else "json_each(e.pii_commitments) AS k"  # the embedded demo's SQLite
    )
    sql = (
        f"SELECT e.agent_id, k.key, count(*) FROM ingest_auditevent e, {keys} "
        f"WHERE e.id IN ({inner}) GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [list(r) for r in cursor.fetchall()]
    return Statement(
        "observed_personal_fields",
        "Personal-data fields committed, by agent",
        sql,
        ["agent", "field", "events"],
        rows,
    )


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _floor_columns() -> list[tuple[str, int]]:
    """The configured statutory floors (retention.floors, settings.OBSPORTAL_RETENTION_FLOORS)
    as column names and days: a policy's row says whether it meets each."""
    names = dict(Framework.choices)
    return [
        (f"{names.get(f.framework, f.framework)} floor {f.days} days", f.days)
        for f in floors().values()
    ]


def retention_status(period: Period, reader: Any) -> Statement:
    """Per active policy, whether it meets each floor and how many of the events the reader
    may see are past its period: retention's own rules (`retention.overdue`), at now."""
    rules = Rules.now(timezone.now())
    scope = visible_events(events(), reader, "obsportal")
    past = events_past_policy(rules, scope)
    floor_columns = _floor_columns()
    rows = [
        [
            p.name,
            p.framework,
            f"agent {p.agent_pattern}, action {p.action_pattern}, result {p.result_pattern}",
            p.keep_days,
            *("yes" if p.keep_days >= days else "no" for _, days in floor_columns),
            due.past,
            due.held,
        ]
        for p, due in zip(rules.policies, past, strict=True)
    ]
    note = (
        f"{len(rules.policies)} active policies; {len(rules.holds)} active legal holds. "
        "Past their time should be 0 (held events are counted apart)."
    )
    if not rules.policies:
        note = "No active retention policy: every event is kept; nothing is past its time."
    return Statement(
        "retention_status",
        "Retention policies and records past their time",
        "retention.overdue.events_past_policy at now: per active RetentionPolicy, longest "
        "first, the events whose deciding policy (the longest covering them) has expired; "
        "held = covered by an active LegalHold (retention.selectors.hold_sql)",
        [
            "policy",
            "framework",
            "covers",
            "keep days",
            *(name for name, _ in floor_columns),
            "past their time",
            "held",
        ],
        rows,
        EXCEPTIONS if any(due.past for due in past) else OK,
        note,
    )


def subject_requests(period: Period, reader: Any) -> Statement:
    module = _optional("obsportal.compliance.request_report")
    report = getattr(module, "report_subject_requests", None)
    if report is None:
        return Statement(
            "subject_requests",
            "Subject requests with deadlines and outcomes",
            "needs obsportal.compliance.request_report.report_subject_requests(since, until)",
            [],
            status=NEEDS,
            note="needs the subjects app: subject requests are not recorded in this portal yet.",
        )
    columns, rows, query = report(period.since, period.until)
    late = any("late" in str(cell) for row in rows for cell in row)
    return Statement(
        "subject_requests",
        "Subject requests with deadlines and outcomes",
        query,
        list(columns),
        [list(r) for r in rows],
        EXCEPTIONS if late else OK,
    )


STATEMENTS: dict[str, Callable[[Period, Any], Statement]] = {
    "incident_clocks": incident_clocks,
    "oldest_records": oldest_records,
    "observed_personal_fields": observed_personal_fields,
    "retention_status": retention_status,
    "subject_requests": subject_requests,
}
