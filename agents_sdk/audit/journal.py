"""The append-only JSONL journal: one writer, one hash chain, durable group commit, rotation.

Each line is one envelope-v1 event. The writer holds an exclusive `flock` on
`<journal>.lock` for its lifetime, so a second writer (another process or
another object in this one) is refused instead of forking the chain. A torn
last line left by a crash is moved to `<journal>.torn` on reopen, never merged.

Rotation renames the active file to a segment beside it,
`<journal>.<seq of its first event, 16 digits>`, and starts a new active file;
the chain simply goes on (the first event of the new file links to the last of
the segment), so readers walk segments in `seq` order, then the active file
(see `agents_sdk.audit.segments`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import orjson

from agents_sdk.audit.chain import (
    MAX_EVENT_BYTES,
    MAX_LENGTHS,
    RESULTS,
    SPAN_ID,
    TRACE_ID,
    InvalidEvent,
    text_field_problem,
)
from agents_sdk.audit.clock import UtcTimestamps, Uuid7Source
from agents_sdk.audit.durability import (
    BATCH_FLUSH_INTERVAL,
    MAX_PENDING_BYTES,
    PENDING_LIMIT,
    DurableOffset,
    GroupCommit,
    write_all,
)
from agents_sdk.audit.encoding import (
    BODY,
    RESULT_BYTES,
    details_json,
    hex_id_json,
    json_text,
    personal_data_json,
)
from agents_sdk.audit.head_signing import key_path, open_key
from agents_sdk.audit.opening import (
    Head,
    JournalClosed,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    TornTail,
    acquire_writer_lock,
    first_seq_of,
    lock_path,
    read_events,
    read_head,
    set_aside_torn_tail,
    torn_path,
)
from agents_sdk.audit.segments import JournalPosition, read_lines

__all__ = [
    "BATCH_FLUSH_INTERVAL",
    "FSYNC_MODES",
    "DurableOffset",
    "FsyncMode",
    "Head",
    "JournalClosed",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalWriter",
    "TornTail",
    "acquire_writer_lock",
    "lock_path",
    "read_events",
    "read_lines",
    "torn_path",
]

log = logging.getLogger("agents_sdk.audit")

FsyncMode = Literal["batch", "always", "never", "write"]
FSYNC_MODES: tuple[str, ...] = ("batch", "always", "never", "write")


class JournalWriter(GroupCommit):
    """Appends envelope-v1 events to a journal file and keeps its hash chain.

    fsync="batch" (default): `append` returns at once; a background thread writes
    and fsyncs within `BATCH_FLUSH_INTERVAL` (group commit). "always": `append`
    returns once the event is on disk; concurrent callers share one fsync.
    "never": written in the background, fsync left to the OS.
    "write": `append` writes its line to the file before it returns (a full or
    read-only disk raises in the caller; a crash of the process loses nothing that
    was returned), the background thread fsyncs every `BATCH_FLUSH_INTERVAL`.

    stream: the stream id of a new journal (default: a fresh UUIDv7); a journal
    that already holds events keeps its own, and naming another one is an error.

    head_key: keep the journal's agent key `<journal>.key` (created with the journal,
    mode 0600, never shipped), with which the shipper signs each batch's stream head.

    rotate_bytes / rotate_seconds: start a new file once the active one holds
    that many bytes / has been active that long (counted from when this writer
    opened or created it). The chain continues across files.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        agent_id: str,
        fsync: FsyncMode = "batch",
        *,
        rotate_bytes: int | None = None,
        rotate_seconds: float | None = None,
        stream: str | None = None,
        head_key: bool = True,
    ):
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_MODES)}, got {fsync!r}")
        if not agent_id or not isinstance(agent_id, str):
            raise ValueError("agent_id must be a non-empty string")
        if len(agent_id) > MAX_LENGTHS["agent_id"] or "\x00" in agent_id:
            raise ValueError(f"agent_id must be at most {MAX_LENGTHS['agent_id']} characters")
        problem = text_field_problem("agent_id", agent_id)
        if problem is not None:
            raise InvalidEvent(problem)
        if stream is not None:
            problem = text_field_problem("stream", stream)
            if problem is not None:
                raise InvalidEvent(problem)
        if rotate_bytes is not None and rotate_bytes < 1:
            raise ValueError("rotate_bytes must be positive")
        if rotate_seconds is not None and rotate_seconds <= 0:
            raise ValueError("rotate_seconds must be positive")
        self.path = Path(path)
        self.agent_id = agent_id
        self.fsync_mode = fsync
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = acquire_writer_lock(self.path)
        try:
            self.torn_tail = set_aside_torn_tail(self.path)
            self.head = read_head(self.path)
            if stream is not None and self.head.stream and self.head.stream != stream:
                raise ValueError(
                    f"journal {self.path} holds stream {self.head.stream}, not {stream}"
                )
            # The agent key that signs the heads the shipper ships: created with the
            # journal. A journal that predates keys gets one now, and its first signed
            # head vouches for everything before it (the tail was just verified).
            self.head_signer, self.key_created = (
                open_key(self.path, create=True) if head_key else (None, False)
            )
            self.key_upgraded = self.key_created and self.head.seq >= 0
            if self.key_upgraded:
                log.warning(
                    "journal %s had no agent key (it predates agent-signed heads): created "
                    "%s; its first signed head will vouch for seq 0..%d",
                    self.path, key_path(self.path), self.head.seq,
                )  # fmt: skip
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except BaseException:
            self._lock_file.close()
            raise
        self._ids = Uuid7Source()
        self._stream = self.head.stream or stream or self._ids.next()
        self._stream_json = orjson.dumps(self._stream)
        self._agent_json = orjson.dumps(agent_id)
        self._seq = self.head.seq
        self._prev_hex = self.head.hash.encode()
        self._prev_raw = bytes.fromhex(self.head.hash)
        self._clock = UtcTimestamps()
        self._lock = threading.Lock()  # the chain state and the pending list
        self._io_lock = threading.Lock()  # the file descriptor: write, fsync, rotate
        self._closed = False
        self._failure: BaseException | None = None
        file_size = os.fstat(self._fd).st_size
        # Seq of the first event of the active file (the next one when it is empty).
        self._file_base = first_seq_of(self.path) if file_size else self._seq + 1
        self._file_bytes = file_size
        self._file_started = time.monotonic()
        self._written_seq = self._seq
        self._durable_seq = self._seq
        self._durable_position = JournalPosition(self._file_base, file_size)
        self._durable = threading.Condition()
        self._committing = False
        self._idle = False
        # One growing buffer rather than a list of lines: thousands of ~500-byte
        # objects per flush fragment the allocator and RSS never comes back down.
        self._pending = bytearray()
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()
        self._listeners: list[threading.Event] = []
        if fsync != "always":
            self._flusher = threading.Thread(
                target=self._flush_loop, name=f"journal-flush:{self.path.name}", daemon=True
            )
            self._flusher.start()

    # -- recording ---------------------------------------------------------

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def last_seq(self) -> int:
        """Seq of the last event recorded (durable or not); -1 when there is none."""
        return self._seq

    def append(
        self,
        action: str,
        result: str = "success",
        *,
        details: dict[str, Any] | None = None,
        user_id: str | None = None,
        resource: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        personal_data: dict[str, Any] | None = None,
        before_write: Callable[[dict[str, Any]], None] | None = None,
        after_write: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Record one event; returns it as written. Bad input raises and writes nothing.

        `before_write`, if given, is called with the sealed event (under the chain
        lock, so in chain order) before its line is written: a copy kept elsewhere
        (the portal's database) is stored first, and if the call raises, nothing is
        written and the chain is left as it was.

        `after_write`, if given, is called with the sealed event under the chain lock
        once its line is written (fsync="write") or queued for the writer thread: a
        copy made later, in chain order, of lines the journal holds. It must not raise.
        """
        # Everything that can fail is checked before the chain state is touched.
        if type(action) is not str or not action:
            raise InvalidEvent("action must be a non-empty string")
        action_json = json_text("action", action)
        result_bytes = RESULT_BYTES.get(result) if type(result) is str else None
        if result_bytes is None:
            raise InvalidEvent(f"result {result!r} is not one of {', '.join(sorted(RESULTS))}")
        user_json = json_text("user_id", user_id)
        resource_json = json_text("resource", resource)
        trace_json = hex_id_json("trace_id", trace_id, TRACE_ID, 32)
        span_json = hex_id_json("span_id", span_id, SPAN_ID, 16)
        details, details_bytes = details_json(details)
        commitments, sidecar, commitments_json, sidecar_json = personal_data_json(personal_data)
        with self._lock:
            if self._closed or self._failure is not None:
                raise JournalClosed(
                    f"journal {self.path} is closed"
                    + (f" after a write failure: {self._failure}" if self._failure else "")
                )
            seq = self._seq + 1
            event_id = self._ids.next()
            ts = self._clock.now()
            prev_hex = self._prev_hex
            canonical = BODY % (
                action_json,
                self._agent_json,
                details_bytes,
                event_id.encode(),
                commitments_json,
                prev_hex,
                resource_json,
                result_bytes,
                seq,
                span_json,
                self._stream_json,
                trace_json,
                ts.encode(),
                user_json,
            )
            if len(canonical) > MAX_EVENT_BYTES:
                raise InvalidEvent(
                    f"event is {len(canonical)} bytes once canonicalized; "
                    f"the limit is {MAX_EVENT_BYTES}"
                )
            hasher = hashlib.sha256(self._prev_raw)
            hasher.update(canonical)
            digest_raw = hasher.digest()
            digest = digest_raw.hex().encode()
            # The line is the canonical body with `hash` (and the sidecar) appended:
            # still one JSON object, and no second serialization on the hot path.
            line = canonical[:-1] + b',"hash":"' + digest + b'"' + sidecar_json + b"}\n"
            sealed = before_write is not None or after_write is not None
            if sealed:
                event = self._event(
                    event_id, seq, ts, action, result, user_id, resource, details,
                    trace_id, span_id, commitments, prev_hex, digest, sidecar,
                )  # fmt: skip
                if before_write is not None:
                    before_write(event)
            backlog = 0
            if self.fsync_mode == "write":
                try:
                    write_all(self._fd, line)
                except OSError as exc:
                    # Maybe a torn line on disk: refuse further events (a reopen sets it aside).
                    self._failure = exc
                    raise JournalClosed(f"journal {self.path} failed to write: {exc}") from exc
                self._file_bytes += len(line)
                self._written_seq = seq
                if not self._wake.is_set():
                    self._wake.set()  # the fsync, by the journal's thread
            else:
                self._pending += line
                backlog = len(self._pending)
                # The first line after an idle spell wakes the thread (its window starts).
                if (backlog == len(line) and self._idle) or backlog >= MAX_PENDING_BYTES:
                    self._wake.set()
            self._seq = seq
            self._prev_raw = digest_raw
            self._prev_hex = digest
            if after_write is not None:
                after_write(event)
        if self.fsync_mode == "always":
            self._commit_until(seq)
        elif backlog >= PENDING_LIMIT:
            self._wait_for_disk(seq - 1)
        if sealed:
            return event
        return self._event(
            event_id, seq, ts, action, result, user_id, resource, details,
            trace_id, span_id, commitments, prev_hex, digest, sidecar,
        )  # fmt: skip

    def _event(
        self,
        event_id: str,
        seq: int,
        ts: str,
        action: str,
        result: str,
        user_id: str | None,
        resource: str | None,
        details: dict[str, Any],
        trace_id: str | None,
        span_id: str | None,
        commitments: dict[str, str],
        prev_hex: bytes,
        digest: bytes,
        sidecar: dict[str, Any],
    ) -> dict[str, Any]:
        event = {
            "v": 1,
            "event_id": event_id,
            "stream": self._stream,
            "seq": seq,
            "ts": ts,
            "agent_id": self.agent_id,
            "action": action,
            "result": result,
            "user_id": user_id,
            "resource": resource,
            "details": details,
            "trace_id": trace_id,
            "span_id": span_id,
            "pii_commitments": commitments,
            "prev_hash": prev_hex.decode(),
            "hash": digest.decode(),
        }
        if sidecar:
            event["pii"] = sidecar
        return event

    # -- durability --------------------------------------------------------

    def close(self) -> None:
        """Flush what is pending, release the file and the writer lock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._flusher is not None:
            self._wake.set()
            self._flusher.join()
        else:
            self._flush_pending()
        os.close(self._fd)
        self._lock_file.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
