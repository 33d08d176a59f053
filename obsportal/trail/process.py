"""This process's trail stream: its journal writer, its database copy, and their lives.

Opened on first use; replaced after a fork (the parent's writer, flock and threads are
the parent's), after a failure, and when its database copy diverged. Each event takes
one of two paths to the database, chosen per event:

- in the background (PostgreSQL, outside a transaction: a page view, an API read): the
  line is written, then handed to this stream's `TrailCopier`; the request does not wait
  for the database;
- in the caller's transaction (a change, which must commit with its record, or the
  embedded SQLite demo, whose one writer a second thread would contend with): the copier
  is drained first, so the database receives the chain in order, then the row is stored
  before the line is written.

One case waits: in a threaded server, a transaction that already stored a row holds its
stream's head until it commits; if another thread's read is queued behind it and the
same transaction records again, its drain waits for a copy that waits for it. After
OBSPORTAL_TRAIL_DRAIN_SECONDS that change is refused and rolled back, and the copy goes
on (gunicorn's sync workers, the deployment's, serve one request at a time per process).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from agents_sdk.audit.chain import InvalidEvent
from agents_sdk.audit.journal import JournalError, JournalWriter
from obsportal.trail.copier import TrailCopier
from obsportal.trail.database_copy import (
    ASYNC_COMMIT,
    Diverged,
    store_at_head,
    store_in_chain_order,
)

logger = logging.getLogger(__name__)

# A journal file past this size becomes a segment beside it (the chain goes on).
JOURNAL_ROTATE_BYTES = 64 << 20


class TrailUnavailable(Exception):
    """The portal could not write its own audit event; what needed it must not happen."""


class HeadMoved(Exception):
    """The database's copy of this process's stream is not the journal's chain."""


def trail_agent_id() -> str:
    return getattr(settings, "OBSPORTAL_TRAIL_AGENT_ID", "obsportal")


def trail_stream() -> str:
    """The prefix of the portal's trail streams (each process adds its host and pid)."""
    return getattr(settings, "OBSPORTAL_TRAIL_STREAM", f"{trail_agent_id()}-trail")


def trail_journal_dir() -> Path:
    return Path(getattr(settings, "OBSPORTAL_TRAIL_JOURNAL_DIR", settings.VAR_DIR / "trail"))


def drain_seconds() -> float:
    return float(getattr(settings, "OBSPORTAL_TRAIL_DRAIN_SECONDS", 5.0))


def copies_in_background() -> bool:
    """Whether the event being recorded now goes to the database in the background."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and getattr(settings, "OBSPORTAL_TRAIL_DATABASE_COPY", "background") == "background"
    )


class Stream:
    """One trail stream of this process: its journal and its database copy."""

    def __init__(self, writer: JournalWriter) -> None:
        self.writer = writer
        self.copier = TrailCopier(
            writer.agent_id,
            writer.stream,
            writer.path,
            int(getattr(settings, "OBSPORTAL_TRAIL_BACKLOG", 10_000)),
        )
        self._at_head = False  # the database's head is known to be the journal's

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        if copies_in_background():
            return self.writer.append(
                **entry, before_write=self.copier.room, after_write=self.copier.offer
            )
        return self.writer.append(**entry, before_write=self.store_inline)

    def store_inline(self, event: dict[str, Any]) -> None:
        """Store `event` in the caller's transaction, after everything before it."""
        behind = self.copier.drain(drain_seconds())
        if behind:
            raise TrailUnavailable(
                f"its database copy is {behind} events behind ({self.copier.problem()})"
            )
        if self._at_head and connection.vendor == "postgresql":
            quick = not connection.in_atomic_block and not getattr(
                settings, "OBSPORTAL_TRAIL_SYNCHRONOUS_COMMIT", False
            )
            # Outside a transaction the row need not wait for the WAL flush: the journal
            # line written right after it is the durable record.
            if store_at_head([event], ASYNC_COMMIT if quick else None):
                return
        # The first event, or the head is elsewhere (a rolled-back row: filled from the
        # journal; anything else diverged).
        try:
            store_in_chain_order(event["agent_id"], event["stream"], [event], self.writer.path)
        except Diverged as exc:
            raise HeadMoved(str(exc)) from exc
        self._at_head = True

    def close(self, timeout: float | None) -> None:
        self.copier.close(timeout)
        with contextlib.suppress(OSError):  # a failed disk: the file stays as it is
            self.writer.close()


class ProcessTrail:
    """This process's trail stream: opened on first use, replaced when it must be."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stream: Stream | None = None
        self._pid = 0

    def current(self) -> Stream:
        with self._lock:
            if self._stream is None or self._pid != os.getpid():
                self._stream = Stream(self._open())
                self._pid = os.getpid()
            return self._stream

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

    def leave(self, stream: Stream) -> None:
        """Stop writing `stream`; the next event starts a new one. Its copier stores what
        it holds in the background; what it cannot, its journal keeps for recovery."""
        with self._lock:
            if self._stream is stream:
                self._stream = None
        stream.close(timeout=None)

    def drain(self, timeout: float) -> int:
        """Wait for the database to hold this process's events; how many it lacks after."""
        with self._lock:
            stream = self._stream if self._pid == os.getpid() else None
        return 0 if stream is None else stream.copier.drain(timeout)

    def reset(self, timeout: float) -> None:
        """Store what is waiting, then close this process's stream (the next event opens a
        new one): tests, and the process's exit."""
        with self._lock:
            stream, self._stream = self._stream, None
            mine = self._pid == os.getpid()
        if stream is not None and mine:
            if stream.copier.drain(timeout):
                logger.warning(
                    "trail stream %s closed with events its database copy lacks (%s); "
                    "its journal keeps them for `manage.py recover_trail`",
                    stream.writer.stream, stream.copier.problem(),
                )  # fmt: skip
            stream.close(timeout)

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._stream = None


process_trail = ProcessTrail()
os.register_at_fork(after_in_child=process_trail.after_fork)
atexit.register(lambda: process_trail.reset(drain_seconds()))
