"""record_trail: the portal writes its own audit events, as an agent of its own.

The trail is one envelope-v1 stream (OBSPORTAL_TRAIL_STREAM of agent
OBSPORTAL_TRAIL_AGENT_ID), appended under the stream's head lock through ingest's
storage seam, so it is verified, checkpointed and exported like any agent's stream.
One shared stream, not one per process: its head lock is held for one append
(~0.3 ms, benchmarks/trail_overhead.py), far from a portal's request rate, and an
auditor reads one total order instead of merging a stream per worker ever started.

Fail closed: when the event cannot be stored, TrailUnavailable is raised and the
caller refuses what it was about to do or serve.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from opentelemetry import trace

from agents_sdk.audit.chain import ENVELOPE_VERSION, HASHED_FIELDS, commit_personal_value, seal
from agents_sdk.audit.clock import uuid7
from obsportal.ingest import storage
from obsportal.ingest.envelope import format_ts
from obsportal.ingest.services import locked_heads
from obsportal.ingest.verdicts import BatchRefused
from obsportal.trail.actions import action_named


class TrailUnavailable(Exception):
    """The portal could not write its own audit event; what needed it must not happen."""


def trail_agent_id() -> str:
    return getattr(settings, "OBSPORTAL_TRAIL_AGENT_ID", "obsportal")


def trail_stream() -> str:
    return getattr(settings, "OBSPORTAL_TRAIL_STREAM", f"{trail_agent_id()}-trail")


def record_trail(
    action: str,
    *,
    actor: str | None = None,
    result: str = "success",
    resource: str | None = None,
    details: dict[str, Any] | None = None,
    personal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one event to the portal's trail and return it (envelope v1, with `pii`).

    `actor` is the portal user (the event's `user_id`); `personal` holds values that
    are personal data (a searched user id, a failed login's name): they go into the
    erasable sidecar, only their salted commitments into the hashed body.
    """
    action_named(action)  # an unregistered action is a bug, not a new kind of event
    commitments, pii = {}, {}
    for name, value in (personal or {}).items():
        if value in (None, ""):
            continue
        committed = commit_personal_value(value)
        commitments[name] = committed.commitment
        pii[name] = {"value": committed.value, "salt": committed.salt}
    span = trace.get_current_span().get_span_context()
    fields = {
        "agent_id": trail_agent_id(),
        "action": action,
        "result": result,
        "user_id": actor,
        "resource": resource,
        "details": details or {},
        "trace_id": format(span.trace_id, "032x") if span.is_valid else None,
        "span_id": format(span.span_id, "016x") if span.is_valid else None,
        "pii_commitments": commitments,
    }
    try:
        return _append(trail_stream(), fields, pii)
    except (DatabaseError, BatchRefused) as exc:
        _heads.pop(trail_stream(), None)
        raise TrailUnavailable(f"the portal's audit trail cannot be written: {exc}") from exc


# This process's last known head of each trail stream: (seq, hash). A hint only: every
# append is a compare-and-set on the stored head, and a stale hint costs one locked read.
_heads: dict[str, tuple[int, str]] = {}


def _append(stream: str, fields: dict[str, Any], pii: dict[str, Any]) -> dict[str, Any]:
    known = _heads.get(stream)
    if known is not None and connection.vendor == "postgresql":
        event = _sealed(stream, known, fields, pii)
        if storage.append_at_head(event):  # one round trip, no explicit lock
            _heads[stream] = (event["seq"], event["hash"])
            return event
    with transaction.atomic():
        head = locked_heads(fields["agent_id"], [stream])[stream]
        event = _sealed(stream, (head.seq, head.hash), fields, pii)
        storage.store_events([event])
        head.seq, head.hash = event["seq"], event["hash"]
        storage.save_heads([head])
    _heads[stream] = (event["seq"], event["hash"])
    return event


def _sealed(
    stream: str, head: tuple[int, str], fields: dict[str, Any], pii: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "v": ENVELOPE_VERSION,
        "event_id": uuid7(),
        "stream": stream,
        "seq": head[0] + 1,
        "ts": format_ts(datetime.now(UTC)),
        **fields,
        "prev_hash": head[1],
    }
    digest, _ = seal({name: body[name] for name in HASHED_FIELDS})
    return {**body, "hash": digest, "pii": pii}


def actor_name(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


def record_change(
    actor: Any,
    action: str,
    target: Any,
    details: dict[str, Any],
    personal: dict[str, Any] | None = None,
) -> None:
    """A change of who may do what (or a job requested), by `actor` (a user, or None: the
    command line, or the `via` the details name); `personal` goes to the sidecar."""
    changes = _request_changes.get()
    if changes is not None:
        changes.append(action)
    record_trail(
        action,
        actor=actor_name(actor),
        resource=_resource_of(target),
        details={"via": "portal" if actor is not None else "command line", **details},
        personal=personal,
    )


def _resource_of(target: Any) -> str:
    label = target._meta.model_name if hasattr(target, "_meta") else type(target).__name__
    return f"{label}:{target.pk}"


# The changes recorded while serving the current request: the middleware sets a list
# per request and writes no request event of its own when a change already covers it.
_request_changes: ContextVar[list[str] | None] = ContextVar("trail_request_changes", default=None)
