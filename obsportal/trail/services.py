"""record_trail: the portal writes its own audit events, as an agent of its own.

Each portal process (a gunicorn worker, a Celery worker, a management command)
writes a stream of its own: an SDK journal on disk (`JournalWriter`, fsync="write",
in OBSPORTAL_TRAIL_JOURNAL_DIR, named after its stream
`<OBSPORTAL_TRAIL_STREAM>-<host>-<pid>-<random>`), copied into the database through
ingest's storage seam (`trail.process`, `trail.copier`). So the trail is verified,
checkpointed and exported like any agent's stream, `agents-sdk verify` checks the
journal offline, and `agents-sdk verify --against` crosschecks it with the database.

Why a stream per process, not one shared: the journal allows one writer (its flock),
and a process that is the only writer of its stream needs no shared head row and no
lock any other worker waits on. An auditor merges the streams by `ts`; each is one
total order. Threads of one process share its writer; the journal's chain lock orders
the line and the hand-over to the database copy, so both copies hold the same chain.

The journal line is the record (journal first). A read (PostgreSQL, outside a
transaction) is answered once its line is written; the process's copier thread stores
the line's event in the database within milliseconds, batched with whatever else
gathered (issue #12's budget, <= 1 ms p95 of request time: benchmarks/trail_overhead.py).
A change, recorded inside its own transaction, stores its row in that transaction
(after the copier has stored everything before it): the change and its record commit
together or not at all. The database copy lagging behind is bounded
(OBSPORTAL_TRAIL_BACKLOG events); what a process could not copy before it died is in
its journal, and `trail.recovery` stores it.

Fail closed: when the journal line cannot be written, or the database copy is too far
behind to take another event, or (inside a transaction) the row cannot be stored,
TrailUnavailable is raised and the caller refuses what it was about to do or serve.
When the journal fails after a change's row was stored, the request is refused all
the same and its transaction rolls the row back (a row stored inline outside any
transaction, the SQLite demo's, stays: recorded more, never less).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db import DatabaseError
from opentelemetry import trace

from agents_sdk.audit.chain import CONTROL_CHARACTER, MAX_LENGTHS
from agents_sdk.audit.journal import JournalError
from obsportal.ingest.verdicts import BatchRefused
from obsportal.telemetry.metrics import TRAIL_APPEND_FAILURES
from obsportal.trail.actions import action_named
from obsportal.trail.copier import CopyBehind
from obsportal.trail.database_copy import Diverged
from obsportal.trail.process import (
    HeadMoved,
    TrailUnavailable,
    drain_seconds,
    process_trail,
    trail_agent_id,
    trail_journal_dir,
    trail_stream,
)

__all__ = [
    "READ_YOUR_OWN_TRAIL_SECONDS",
    "TrailUnavailable",
    "actor_name",
    "flush_trail",
    "record_change",
    "record_trail",
    "reset_process_trail",
    "trail_agent_id",
    "trail_journal_dir",
    "trail_stream",
]


def record_trail(
    action: str,
    *,
    actor: str | None = None,
    result: str = "success",
    resource: str | None = None,
    details: dict[str, Any] | None = None,
    personal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one event to this process's trail stream and return it (envelope v1, `pii`).

    `actor` is the portal user (the event's `user_id`); `personal` holds values that
    are personal data (a searched user id, a failed login's name): they go into the
    erasable sidecar, only their salted commitments into the hashed body.
    """
    action_named(action)  # an unregistered action is a bug, not a new kind of event
    span = trace.get_current_span().get_span_context()
    entry = {
        "action": action,
        "result": result,
        "user_id": _storable(actor, MAX_LENGTHS["user_id"]),
        "resource": _storable(resource, MAX_LENGTHS["resource"]),
        "details": _json_safe(details or {}),
        "trace_id": format(span.trace_id, "032x") if span.is_valid else None,
        "span_id": format(span.span_id, "016x") if span.is_valid else None,
        "personal_data": _json_safe(
            {k: v for k, v in (personal or {}).items() if v not in (None, "")}
        ),
    }
    try:
        return _append(entry)
    except TrailUnavailable:
        TRAIL_APPEND_FAILURES.inc()
        raise


def _storable(text: str | None, limit: int) -> str | None:
    """A text field as the envelope takes it. A hostile URL or header (a control character,
    a lone surrogate) must not keep its request off the trail: such characters are written
    as escapes, and the value is cut to the field's limit."""
    if text is None:
        return None
    clean = CONTROL_CHARACTER.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return clean.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


def _json_safe(value: Any) -> Any:
    """`value` with every string valid UTF-8 (lone surrogates escaped), keys included."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_json_safe(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _append(entry: dict[str, Any]) -> dict[str, Any]:
    for _attempt in range(2):
        stream = process_trail.current()
        try:
            return stream.append(entry)
        except (HeadMoved, Diverged):
            process_trail.leave(stream)  # and go on with a new stream
        except CopyBehind as exc:
            raise TrailUnavailable(f"the portal's audit trail cannot be written: {exc}") from exc
        except (DatabaseError, BatchRefused) as exc:
            raise TrailUnavailable(f"the portal's audit trail cannot be written: {exc}") from exc
        except (JournalError, OSError) as exc:
            process_trail.leave(stream)
            raise TrailUnavailable(f"the portal's audit trail journal failed: {exc}") from exc
    raise TrailUnavailable("the portal's audit trail stream keeps moving under this process")


# How long a reader of the trail waits for this process's own latest events to be stored.
READ_YOUR_OWN_TRAIL_SECONDS = 1.0


def flush_trail(timeout: float | None = None) -> int:
    """Wait until the database holds every trail event this process has recorded (up to
    `timeout` seconds, OBSPORTAL_TRAIL_DRAIN_SECONDS by default); returns how many it
    still lacks then (0: all of them). A reader of the trail calls it first, so that
    what they just did is on the page."""
    return process_trail.drain(drain_seconds() if timeout is None else timeout)


def reset_process_trail() -> None:
    """Store what waits, then close this process's trail stream; the next event opens a
    new stream (tests; a process about to exit)."""
    process_trail.reset(drain_seconds())


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
