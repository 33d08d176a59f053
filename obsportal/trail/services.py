"""record_trail: the portal writes its own audit events, as an agent of its own.

Each portal process (a gunicorn worker, a Celery worker, a management command)
writes a stream of its own: an SDK journal on disk (`JournalWriter`, fsync="write",
in OBSPORTAL_TRAIL_JOURNAL_DIR, named after its stream
`<OBSPORTAL_TRAIL_STREAM>-<host>-<pid>-<random>`) whose every event is stored in the
database, through ingest's storage seam, before its line is written. So the trail
is verified, checkpointed and exported like any agent's stream, `agents-sdk verify`
checks the journal offline, and `agents-sdk verify --against` crosschecks it with
the database copy.

Why a stream per process, not one shared: the journal allows one writer (its flock),
and a process that is the only writer of its stream needs no shared head row: one
statement (a compare-and-set on its own head, the row and its sidecar) per event,
no lock any other worker waits on. An auditor merges the streams by `ts`; each is
one total order. The concurrency story, case by case:

- threads of one process share its writer; the journal's chain lock orders both the
  database row and the line, so both copies hold the same chain;
- two processes never share a stream (one journal, one flock, one stream id);
- the database head moved away from the journal's (a transaction that stored the
  row rolled back, a database crash lost a commit): the compare-and-set fails, the
  process leaves that stream (its journal keeps the event the database lacks; the
  crosscheck names it) and continues on a new one. A chain is never forked.

Durability: the line is written to the file (not yet fsynced: fsync is the journal's
group commit, every 2 ms) and the row committed without waiting for the WAL flush
(OBSPORTAL_TRAIL_SYNCHRONOUS_COMMIT=False, outside a transaction only), so a crash
of the database loses no trail event the journal does not hold. A change recorded
inside its own transaction commits with it, synchronously.

Cost (issue #12's budget, <= 1 ms p95 of request time; benchmarks/trail_overhead.py):
the recording is one journal line (~15 us) and one database round trip; profiled inside
requests, building the entry, the details and the canonical body are ~20 us together and
everything else is the statement (the row into a table of twelve indexes, the head, the
sidecar). The trail's hourly counts were two hot-row upserts in that statement, ~0.15 ms
of it, for counts nobody read (the overview excludes the trail): they are not kept
(`ingest.counts._counted`). Recorded inside a request the same call costs ~0.1-0.2 ms more
than back to back; record_trail alone paced one call every 3 ms costs the same, so the
gap is the round trip after other work (caches, the backend's wake-up), not work the
middleware does twice. Journal first with a background database copy (the issue allows
it) would take the round trip out of the request; not done (see benchmarks/README.md).

Fail closed: when the event cannot be stored in the database or written to the
journal, TrailUnavailable is raised and the caller refuses what it was about to do
or serve. The database copy is stored first: when it fails nothing is written
anywhere; when the journal fails after it, the request is refused all the same
(the database then holds the event of a refused request: recorded more, never less).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from opentelemetry import trace

from agents_sdk.audit.chain import CONTROL_CHARACTER, MAX_LENGTHS, InvalidEvent
from agents_sdk.audit.journal import JournalError, JournalWriter
from obsportal.ingest import head_append, storage
from obsportal.ingest.services import locked_heads
from obsportal.ingest.verdicts import BatchRefused
from obsportal.telemetry.metrics import TRAIL_APPEND_FAILURES
from obsportal.trail.actions import action_named

# A journal file past this size becomes a segment beside it (the chain goes on).
JOURNAL_ROTATE_BYTES = 64 << 20


class TrailUnavailable(Exception):
    """The portal could not write its own audit event; what needed it must not happen."""


def trail_agent_id() -> str:
    return getattr(settings, "OBSPORTAL_TRAIL_AGENT_ID", "obsportal")


def trail_stream() -> str:
    """The prefix of the portal's trail streams (each process adds its host and pid)."""
    return getattr(settings, "OBSPORTAL_TRAIL_STREAM", f"{trail_agent_id()}-trail")


def trail_journal_dir() -> Path:
    return Path(getattr(settings, "OBSPORTAL_TRAIL_JOURNAL_DIR", settings.VAR_DIR / "trail"))


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
        writer = _process.writer()
        try:
            return writer.append(**entry, before_write=_process.store)
        except _HeadMoved:
            _process.leave(writer)  # and go on with a new stream
        except (DatabaseError, BatchRefused) as exc:
            raise TrailUnavailable(f"the portal's audit trail cannot be written: {exc}") from exc
        except (JournalError, OSError) as exc:
            _process.leave(writer)
            raise TrailUnavailable(f"the portal's audit trail journal failed: {exc}") from exc
    raise TrailUnavailable("the portal's audit trail stream keeps moving under this process")


class _HeadMoved(Exception):
    """The database's head of this process's stream is not the journal's."""


_APPEND_ASYNC_COMMIT = head_append.APPEND_AT_HEAD.replace(
    "SELECT count(*) FROM stored",
    "SELECT (SELECT count(*) FROM stored), set_config('synchronous_commit', 'off', true)",
)


class _ProcessTrail:
    """This process's trail writer: opened on first use, replaced after a fork or a failure."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writer: JournalWriter | None = None
        self._pid = 0
        self._stored = False  # the database holds this stream (its head row exists)

    def writer(self) -> JournalWriter:
        with self._lock:
            if self._writer is None or self._pid != os.getpid():
                self._writer = self._open()
                self._pid = os.getpid()
                self._stored = False
            return self._writer

    def _open(self) -> JournalWriter:
        directory = trail_journal_dir()
        host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:60] or "host"
        stream = f"{trail_stream()}-{host}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            return JournalWriter(
                directory / f"{stream}.jsonl",
                trail_agent_id(),
                fsync="write",
                rotate_bytes=JOURNAL_ROTATE_BYTES,
                stream=stream,
                # Stored by the portal itself, never shipped: no agent key of its own signs
                # its heads (the portal's checkpoints do).
                head_key=False,
            )
        except (JournalError, OSError, InvalidEvent, ValueError) as exc:
            raise TrailUnavailable(f"the portal's audit trail journal cannot open: {exc}") from exc

    def leave(self, writer: JournalWriter) -> None:
        """Stop writing `writer`'s stream; the next event starts a new one."""
        with self._lock:
            if self._writer is writer:
                self._writer = None
        with contextlib.suppress(OSError):  # a failed disk: the file stays as it is
            writer.close()

    def reset(self) -> None:
        """Close this process's writer (tests: each starts on a fresh stream)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None and self._pid == os.getpid():
            writer.close()

    def after_fork(self) -> None:
        # The parent's writer, its flock and its flusher thread are the parent's.
        self._lock = threading.Lock()
        self._writer = None

    def store(self, event: dict[str, Any]) -> None:
        """Store `event` in the database (called by the journal, in chain order)."""
        if self._stored and connection.vendor == "postgresql":
            quick = not connection.in_atomic_block and not getattr(
                settings, "OBSPORTAL_TRAIL_SYNCHRONOUS_COMMIT", False
            )
            statement = _APPEND_ASYNC_COMMIT if quick else None
            if not head_append.append_at_head(event, statement, prepared=True):
                raise _HeadMoved(event["stream"])
            return
        with transaction.atomic():
            head = locked_heads(event["agent_id"], [event["stream"]])[event["stream"]]
            if (head.seq, head.hash) != (event["seq"] - 1, event["prev_hash"]):
                raise _HeadMoved(event["stream"])
            storage.store_events([event])
            head.seq, head.hash = event["seq"], event["hash"]
            storage.save_heads([head])
        self._stored = True


_process = _ProcessTrail()
os.register_at_fork(after_in_child=_process.after_fork)


def reset_process_trail() -> None:
    """Close this process's trail journal; the next event opens a new stream."""
    _process.reset()


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
