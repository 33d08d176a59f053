"""The selectors behind populations: each source turns (params, period, reader) into a queryset,
the REST API request that answers the same question, and the CSV columns of its rows.

`events` is the portal's one event selector (`events.selectors.search_events`, the filter of
GET /api/v1/events/), within the reader's scope: a report shows what its reader may read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import EmptyResultSet
from django.db.models import Q, QuerySet

from obsportal.accounts.models import AgentCredential, RoleAssignment
from obsportal.accounts.permissions import access_of
from obsportal.events.selectors import search_events
from obsportal.ingest.models import AuditEvent, IntegrityIncident, RejectedBatch
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointIncident,
    StreamVerification,
    VerificationRun,
)


@dataclass(frozen=True)
class Period:
    """[since, until) in UTC: since included, until excluded."""

    since: datetime
    until: datetime

    def as_params(self) -> dict[str, str]:
        return {"since": iso(self.since), "until": iso(self.until)}


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Query:
    """What a population's figures come from, as the report prints it."""

    selector: str
    params: dict[str, Any]
    api: str | None  # the REST request answering the same question; None when there is none
    queryset: QuerySet
    columns: tuple[str, ...]
    order: tuple[str, ...]

    def sql(self) -> str:
        return query_sql(self.queryset.order_by(*self.order))


def query_sql(queryset: QuerySet) -> str:
    """The SQL a report prints for a query. Django compiles none for a filter it knows
    matches nothing (`x IN ()`: a period before any trail stream, say): the report says so
    instead of failing the run."""
    try:
        return str(queryset.query)
    except EmptyResultSet:
        return "(no SQL: the filter matches no row by construction; the population is empty)"


EVENT_COLUMNS = (
    "ts",
    "stream_id",
    "seq",
    "event_id",
    "agent_id",
    "action",
    "result",
    "user_id",
    "resource",
    "hash",
)


def _events(params: dict[str, str], period: Period, reader: Any) -> Query:
    full = {**params, **period.as_params()}
    qs = search_events(full, reader)
    return Query(
        "obsportal.events.selectors.search_events",
        full,
        "/api/v1/events/?" + urlencode(full),
        qs,
        EVENT_COLUMNS,
        ("ts", "id"),
    )


def _in_period(qs: QuerySet, field: str, period: Period) -> QuerySet:
    return qs.filter(**{f"{field}__gte": period.since, f"{field}__lt": period.until})


def _verification_runs(params: dict[str, str], period: Period, reader: Any) -> Query:
    qs = _in_period(VerificationRun.objects.all(), "started_at", period)
    if params.get("status"):
        qs = qs.filter(status=params["status"])
    return Query(
        "integrity VerificationRun, started_at in the period",
        {**params, **period.as_params()},
        "/api/v1/verifications/",
        qs,
        ("id", "started_at", "finished_at", "trigger", "status", "streams_checked",
         "streams_with_problems", "events_checked", "checkpoints_checked"),
        ("started_at", "id"),
    )  # fmt: skip


def _stream_problems(params: dict[str, str], period: Period, reader: Any) -> Query:
    qs = StreamVerification.objects.filter(
        run__started_at__gte=period.since, run__started_at__lt=period.until
    ).exclude(status__in=[StreamVerification.Status.VERIFIED, StreamVerification.Status.INCOMPLETE])
    return Query(
        "integrity StreamVerification of runs started in the period, status not verified",
        {**params, **period.as_params()},
        "/api/v1/verifications/",
        qs,
        ("run_id", "stream_id", "status", "verified_from", "verified_to", "first_break",
         "gaps", "forks", "problems"),
        ("run_id", "stream_id"),
    )  # fmt: skip


def _checkpoints(params: dict[str, str], period: Period, reader: Any) -> Query:
    return Query(
        "integrity Checkpoint, issued_at in the period",
        {**params, **period.as_params()},
        "/api/v1/checkpoints/",
        _in_period(Checkpoint.objects.all(), "issued_at", period),
        ("number", "issued_at", "tree_size", "root_hash", "key_id"),
        ("number",),
    )


def _checkpoint_incidents(params: dict[str, str], period: Period, reader: Any) -> Query:
    return Query(
        "integrity CheckpointIncident, detected_at in the period",
        {**params, **period.as_params()},
        "/api/v1/checkpoints/incidents/",
        _in_period(CheckpointIncident.objects.all(), "detected_at", period),
        ("id", "detected_at", "checkpoint_number", "kind", "reason"),
        ("detected_at", "id"),
    )


def _forks(params: dict[str, str], period: Period, reader: Any) -> Query:
    qs = _in_period(IntegrityIncident.objects.all(), "detected_at", period)
    qs = access_of(reader).scope.filter_events(qs, "stream__agent_id", "detected_at")
    return Query(
        (
            "ingest IntegrityIncident (a different event offered at a stored seq), detected_at "
            "in the period"
        ),
        {**params, **period.as_params()},
        None,
        qs,
        ("id", "detected_at", "stream_id", "seq", "kind", "stored_hash", "offered_hash"),
        ("detected_at", "id"),
    )


def _rejected_batches(params: dict[str, str], period: Period, reader: Any) -> Query:
    qs = _in_period(RejectedBatch.objects.all(), "received_at", period)
    if params.get("reason_code"):
        qs = qs.filter(reason_code=params["reason_code"])
    return Query(
        "ingest RejectedBatch (dead letters), received_at in the period",
        {**params, **period.as_params()},
        None,
        qs,
        ("id", "received_at", "agent_id", "reason_code", "reason", "event_count"),
        ("received_at", "id"),
    )


def _credentials_at_end(params: dict[str, str], period: Period, reader: Any) -> Query:
    # Live at the period's end: issued before it, not revoked before it.
    qs = AgentCredential.objects.filter(created_at__lt=period.until).filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gte=period.until)
    )
    return Query(
        (
            "accounts AgentCredential live at the period's end (created before it, not revoked "
            "before it)"
        ),
        {"at": iso(period.until)},
        None,
        qs,
        ("id", "agent_id", "label", "created_at", "revoked_at", "last_used_at", "created_by_id"),
        ("agent_id", "id"),
    )


def _roles_now(params: dict[str, str], period: Period, reader: Any) -> Query:
    return Query(
        "accounts RoleAssignment as stored when the report ran (the role.assign population "
        "reconstructs the period)",
        {},
        None,
        RoleAssignment.objects.select_related("user"),
        ("user__username", "role", "scope_agents", "scope_since", "scope_until", "expires_at",
         "granted_by__username", "granted_at"),
        ("user__username",),
    )  # fmt: skip


SourceFn = Callable[[dict[str, str], Period, Any], Query]

SOURCES: dict[str, SourceFn] = {
    "events": _events,
    "verification_runs": _verification_runs,
    "stream_problems": _stream_problems,
    "checkpoints": _checkpoints,
    "checkpoint_incidents": _checkpoint_incidents,
    "forks": _forks,
    "rejected_batches": _rejected_batches,
    "credentials_at_end": _credentials_at_end,
    "roles_now": _roles_now,
}


def _self_approved(row: dict[str, Any]) -> bool:
    """A role.assign event whose actor is the person whose role changed (details.username)."""
    return bool(row.get("user_id")) and row.get("user_id") == row.get("target")


# Narrowings the REST API cannot express, applied to the (small) populations they serve;
# each takes the row as a dict of its columns plus what `PREDICATE_FIELDS` adds.
PREDICATES: dict[str, Callable[[dict[str, Any]], bool]] = {"self_approved": _self_approved}


def rows(query: Query, predicate: str | None = None) -> Iterator[list[Any]]:
    """The population's rows in its stable order, streamed (never a list in memory)."""
    qs = query.queryset.order_by(*query.order)
    if predicate is None:
        yield from (list(r) for r in qs.values_list(*query.columns).iterator(chunk_size=5000))
        return
    keep = PREDICATES[predicate]
    for event in qs.iterator(chunk_size=2000):
        values = {c: getattr(event, c) for c in query.columns}
        values["target"] = _target_username(event)
        if keep(values):
            yield [values[c] for c in query.columns]


def count(query: Query, predicate: str | None = None) -> int:
    if predicate is None:
        return query.queryset.count()
    return sum(1 for _ in rows(query, predicate))


def _target_username(event: AuditEvent) -> str | None:
    resource = event.resource or ""
    if not resource.startswith("user:"):
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=resource.removeprefix("user:")).first()
    return user.get_username() if user else None
