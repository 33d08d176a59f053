"""Reading streams, their verification history and checkpoints, and evidence exports."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.db.models import OuterRef, QuerySet, Subquery

from obsportal.accounts.permissions import access_of, may_read_agent, visible_streams
from obsportal.ingest.models import Stream
from obsportal.integrity.evidence import BundleRefused, plan_bundle, write_bundle
from obsportal.integrity.models import Checkpoint, StreamVerification, VerificationRun
from obsportal.params import read_moment


def streams_with_last_verification() -> QuerySet[Stream]:
    latest = StreamVerification.objects.filter(stream_id=OuterRef("id")).order_by("-id")
    return (
        Stream.objects.annotate(
            last_verification_status=Subquery(latest.values("status")[:1]),
            last_verification_run=Subquery(latest.values("run_id")[:1]),
            last_verified_at=Subquery(latest.values("run__finished_at")[:1]),
            last_verification_problems=Subquery(latest.values("problems")[:1]),
        )
        .select_related("signed_head")
        .order_by("id")
    )


def stream_readable(user: Any, stream_id: str) -> bool:
    """False for a stream of an agent outside the user's scope (an unknown stream is the
    caller's to report as missing)."""
    agent_id = Stream.objects.filter(pk=stream_id).values_list("agent_id", flat=True).first()
    return agent_id is None or may_read_agent(user, agent_id)


def stream_verifications(stream_id: str) -> QuerySet[StreamVerification]:
    return (
        StreamVerification.objects.filter(stream_id=stream_id).select_related("run").order_by("-id")
    )


def latest_run() -> VerificationRun | None:
    return VerificationRun.objects.exclude(status=VerificationRun.Status.RUNNING).first()


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-id").first()


def checkpoints() -> QuerySet[Checkpoint]:
    return Checkpoint.objects.order_by("-id")


def vanished_streams(run: VerificationRun) -> QuerySet[StreamVerification]:
    return run.streams.filter(status=StreamVerification.Status.MISSING).order_by("stream_id")


# Bundles larger than this are built by the export task, not inside a request.
MAX_DIRECT_EVENTS = 100_000


@dataclass(frozen=True)
class EvidenceQuery:
    """What an evidence bundle selects: an agent's events, within [since, until) if given."""

    agent_id: str
    since: datetime | None
    until: datetime | None


class InvalidEvidenceQuery(ValueError):
    """Evidence query parameters that do not make a query; `errors` maps field to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class EvidenceOutOfScope(PermissionError):
    """The query names an agent the user may not read."""


def evidence_query(params: Mapping[str, Any], user: Any) -> EvidenceQuery:
    """The query of an evidence export from request parameters, within the user's scope:
    a clear error for a bad time or an agent outside it; a scoped period narrows the range."""
    bounds = []
    for name in ("since", "until"):
        text = params.get(name)
        try:
            bounds.append(read_moment(text) if text else None)
        except ValueError as exc:  # month 99, no offset, not a time at all: never the query
            raise InvalidEvidenceQuery({name: str(exc)}) from None
    if bounds[0] is not None and bounds[1] is not None and bounds[0] >= bounds[1]:
        raise InvalidEvidenceQuery({"until": "until must be later than since"})
    agent_id = params.get("agent_id") or None
    if not agent_id:
        raise InvalidEvidenceQuery({"agent_id": "give the agent_id whose events the bundle holds"})
    if not may_read_agent(user, agent_id):
        scope = access_of(user).scope
        raise EvidenceOutOfScope(f"agent {agent_id} is outside your scope ({scope.describe()})")
    # A scoped period narrows the bundle's; the bundle states the query it answers.
    scope, (since, until) = access_of(user).scope, bounds
    if scope.since is not None and (since is None or since < scope.since):
        since = scope.since
    if scope.until is not None and (until is None or until > scope.until):
        until = scope.until
    return EvidenceQuery(agent_id, since, until)


@dataclass
class DirectBundle:
    """A bundle built now, rewound, with its file name and what the trail records of it."""

    file: IO[bytes]
    filename: str
    trail_details: dict[str, Any]


def direct_bundle(query: EvidenceQuery) -> DirectBundle:
    """The bundle of a smaller query, built at once; the larger ones go through an export job.

    Raises BundleRefused (too large, or nothing to prove) and SigningKeyMissing."""
    plan = plan_bundle(query.agent_id, query.since, query.until)
    if plan.events > MAX_DIRECT_EVENTS:
        raise BundleRefused(
            f"the bundle would hold {plan.events} events; more than {MAX_DIRECT_EVENTS} "
            "are built as a job: POST /api/v1/evidence/exports/"
        )
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    write_bundle(plan, spool)
    spool.seek(0)
    details = {"export": "evidence bundle", "events": plan.events, **file_digest(spool)}
    details["query"] = {
        "agent_id": query.agent_id,
        "since": _iso(query.since),
        "until": _iso(query.until),
    }
    return DirectBundle(spool, f"evidence-{query.agent_id}.jsonl".replace("/", "_"), details)


def file_digest(file: IO[bytes]) -> dict[str, Any]:
    """Size and SHA-256 of what is about to leave the portal, for its trail; rewound after."""
    digest, size = hashlib.sha256(), 0
    while chunk := file.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def visible_agents(user: Any) -> QuerySet:
    """The agents `user` may export evidence of (those with a stream in the user's scope)."""
    return (
        visible_streams(Stream.objects.order_by("agent_id"), user)
        .values_list("agent_id", flat=True)
        .distinct()
    )
