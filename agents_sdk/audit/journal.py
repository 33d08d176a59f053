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

import fcntl
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from agents_sdk.audit.canonical import NotCanonicalizable, canonicalize
from agents_sdk.audit.chain import (
    GENESIS_HASH,
    MAX_EVENT_BYTES,
    MAX_LENGTHS,
    RESULTS,
    SPAN_ID,
    TRACE_ID,
    InvalidEvent,
    commit_personal_value,
    verify_event_hash,
)
from agents_sdk.audit.clock import UtcTimestamps, Uuid7Source
from agents_sdk.audit.segments import (
    JournalPosition,
    fsync_directory,
    last_line,
    list_segments,
    read_lines,
    segment_path,
)

__all__ = [
    "FSYNC_MODES",
    "FsyncMode",
    "Head",
    "JournalClosed",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalWriter",
    "TornTail",
    "lock_path",
    "read_events",
    "read_lines",
    "torn_path",
]

FsyncMode = Literal["batch", "always", "never"]
FSYNC_MODES: tuple[str, ...] = ("batch", "always", "never")
# Group-commit window for fsync="batch": the longest an event waits to be durable.
BATCH_FLUSH_INTERVAL = 0.002
# A flush is started early once this much is pending.
MAX_PENDING_BYTES = 1 << 20
# Backpressure: past this much not yet written (a disk stalled for many fsyncs),
# a record call waits for the disk instead of letting memory grow without bound.
PENDING_LIMIT = 16 << 20

_RESULT_BYTES = {result: result.encode() for result in RESULTS}
# The canonical (RFC 8785) body of every event: keys in UTF-16 code-unit order,
# which for these ASCII names is plain byte order. Building it from a template
# saves a second serialization of the whole body per event; property tests and
# the independent verifier hold it to the canonicalizer's bytes.
_BODY = (
    b'{"action":%b,"agent_id":%b,"details":%b,"event_id":"%b","pii_commitments":%b,'
    b'"prev_hash":"%b","resource":%b,"result":"%b","seq":%d,"span_id":%b,"stream":%b,'
    b'"trace_id":%b,"ts":"%b","user_id":%b,"v":1}'
)


class DurableOffset(int):
    """A byte offset in the active file that also names the file (`base`: its first seq)."""

    base: int

    def __new__(cls, offset: int, base: int) -> DurableOffset:
        value = super().__new__(cls, offset)
        value.base = base
        return value


class JournalError(Exception):
    """Base class for journal problems."""


class JournalLocked(JournalError):
    """Another writer holds the journal."""

    def __init__(self, message: str, holder: str = "unknown"):
        super().__init__(message)
        self.holder = holder


class JournalCorrupt(JournalError):
    """The journal's last complete event does not verify, so the chain cannot continue."""


class JournalClosed(JournalError):
    """The journal was closed (or failed to write); no more events can be recorded."""


@dataclass(frozen=True, slots=True)
class TornTail:
    """Bytes found after the last newline on reopen, set aside in `moved_to`."""

    size: int
    moved_to: Path


@dataclass(frozen=True, slots=True)
class Head:
    stream: str
    seq: int  # -1 for an empty journal
    hash: str


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def torn_path(path: Path) -> Path:
    return path.with_name(path.name + ".torn")


def _hex_id_json(name: str, value: str | None, pattern: re.Pattern[str], digits: int) -> bytes:
    """A trace or span id as JSON: null, or its lowercase hex digits (no escaping needed)."""
    if value is None:
        return b"null"
    if type(value) is str and pattern.match(value):
        return b'"' + value.encode() + b'"'
    raise InvalidEvent(f"{name} must be {digits} lowercase hex digits, got {value!r}")


def _json_text(name: str, value: str | None) -> bytes:
    """A top-level text field as canonical JSON (orjson's string escaping is RFC 8785's)."""
    if value is None:
        return b"null"
    if type(value) is not str:
        raise InvalidEvent(f"{name} must be a string or None, got {type(value).__name__}")
    if len(value) > MAX_LENGTHS[name]:
        raise InvalidEvent(f"{name} is {len(value)} characters; the limit is {MAX_LENGTHS[name]}")
    if "\x00" in value:
        raise InvalidEvent(f"{name} may not contain NUL (U+0000)")
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise InvalidEvent(f"{name} is not valid text: {exc}") from None


class JournalWriter:
    """Appends envelope-v1 events to a journal file and keeps its hash chain.

    fsync="batch" (default): `append` returns at once; a background thread writes
    and fsyncs every `BATCH_FLUSH_INTERVAL` (group commit). "always": `append`
    returns once the event is on disk; concurrent callers share one fsync.
    "never": written in the background, fsync left to the OS.

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
    ):
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_MODES)}, got {fsync!r}")
        if not agent_id or not isinstance(agent_id, str):
            raise ValueError("agent_id must be a non-empty string")
        if len(agent_id) > MAX_LENGTHS["agent_id"] or "\x00" in agent_id:
            raise ValueError(f"agent_id must be at most {MAX_LENGTHS['agent_id']} characters")
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
            self.torn_tail = _set_aside_torn_tail(self.path)
            self.head = _read_head(self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except BaseException:
            self._lock_file.close()
            raise
        self._ids = Uuid7Source()
        self._stream = self.head.stream or self._ids.next()
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
        self._file_base = _first_seq(self.path) if file_size else self._seq + 1
        self._file_bytes = file_size
        self._file_started = time.monotonic()
        self._written_seq = self._seq
        self._durable_seq = self._seq
        self._durable_position = JournalPosition(self._file_base, file_size)
        self._durable = threading.Condition()
        self._committing = False
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

    @property
    def durable_seq(self) -> int:
        """Seq of the last event known to be on disk (fsynced, unless fsync='never')."""
        return self._durable_seq

    @property
    def durable_offset(self) -> int:
        """Bytes of the active file known to be complete (and fsynced, unless fsync='never').

        The int also carries `.base`, the first seq of the file it counts in, so a
        reader given only this number still knows which file it bounds across a rotation.
        """
        position = self._durable_position
        return DurableOffset(position.offset, position.base)

    @property
    def durable_position(self) -> JournalPosition:
        """(first seq of the file, byte offset) up to which the journal is durable."""
        return self._durable_position

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
    ) -> dict[str, Any]:
        """Record one event; returns it as written. Bad input raises and writes nothing."""
        # Everything that can fail is checked before the chain state is touched.
        if type(action) is not str or not action:
            raise InvalidEvent("action must be a non-empty string")
        action_json = _json_text("action", action)
        result_bytes = _RESULT_BYTES.get(result) if type(result) is str else None
        if result_bytes is None:
            raise InvalidEvent(f"result {result!r} is not one of {', '.join(sorted(RESULTS))}")
        user_json = _json_text("user_id", user_id)
        resource_json = _json_text("resource", resource)
        trace_json = _hex_id_json("trace_id", trace_id, TRACE_ID, 32)
        span_json = _hex_id_json("span_id", span_id, SPAN_ID, 16)
        if details is None:
            details = {}
            details_json = b"{}"
        elif type(details) is not dict:
            raise InvalidEvent(f"details must be a dict, got {type(details).__name__}")
        else:
            try:
                details_json = canonicalize(details, round_trip=True)
            except NotCanonicalizable as exc:
                raise InvalidEvent(f"details are not plain JSON: {exc}") from exc
        commitments: dict[str, str] = {}
        sidecar: dict[str, dict[str, Any]] = {}
        if personal_data:
            if type(personal_data) is not dict:
                raise InvalidEvent("personal_data must be a dict of field name -> value")
            for name, value in personal_data.items():
                if type(name) is not str or not name:
                    raise InvalidEvent(f"personal_data keys must be non-empty strings: {name!r}")
                try:
                    committed = commit_personal_value(value)
                except NotCanonicalizable as exc:
                    raise InvalidEvent(f"personal_data[{name!r}]: {exc}") from exc
                commitments[name] = committed.commitment
                sidecar[name] = {"value": committed.value, "salt": committed.salt}
            commitments_json = canonicalize(commitments)
            sidecar_json = b',"pii":' + orjson.dumps(sidecar)
        else:
            commitments_json = b"{}"
            sidecar_json = b""
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
            canonical = _BODY % (
                action_json,
                self._agent_json,
                details_json,
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
            self._prev_raw = hasher.digest()
            digest = self._prev_raw.hex().encode()
            # The line is the canonical body with `hash` (and the sidecar) appended:
            # still one JSON object, and no second serialization on the hot path.
            line = canonical[:-1] + b',"hash":"' + digest + b'"' + sidecar_json + b"}\n"
            self._seq = seq
            self._prev_hex = digest
            self._pending += line
            backlog = len(self._pending)
            if backlog >= MAX_PENDING_BYTES:
                self._wake.set()
        if self.fsync_mode == "always":
            self._commit_until(seq)
        elif backlog >= PENDING_LIMIT:
            self._wait_for_disk(seq - 1)
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

    def _commit_until(self, seq: int) -> None:
        """fsync="always": make `seq` durable; one caller writes for all who wait (group commit)."""
        with self._durable:
            while self._durable_seq < seq:
                if self._failure is not None:
                    raise JournalClosed(f"journal {self.path} failed to write: {self._failure}")
                if self._committing:
                    self._durable.wait()
                    continue
                self._committing = True
                break
            else:
                return
        try:
            self._flush_pending()
        finally:
            with self._durable:
                self._committing = False
                self._durable.notify_all()
        if self._durable_seq < seq:  # the write failed
            raise JournalClosed(f"journal {self.path} failed to write: {self._failure}")

    def _wait_for_disk(self, seq: int) -> None:
        self._wake.set()
        with self._durable:
            while self._durable_seq < seq and self._failure is None and not self._closed:
                self._durable.wait(0.1)

    def _flush_loop(self) -> None:
        while True:
            self._wake.wait(BATCH_FLUSH_INTERVAL)
            self._wake.clear()
            closed = self._closed
            self._flush_pending()
            if closed:
                return

    def _flush_pending(self) -> None:
        with self._io_lock:
            with self._lock:
                data, self._pending = self._pending, bytearray()
                last_seq = self._seq
            if data:
                try:
                    _write_all(self._fd, data)
                    if self.fsync_mode != "never":
                        os.fsync(self._fd)
                except OSError as exc:
                    # The chain in memory ran ahead of the file: refuse further events
                    # rather than write ones that link to a hash that is not on disk.
                    self._failure = exc
                    with self._durable:
                        self._durable.notify_all()
                    return
                self._file_bytes += len(data)
                self._written_seq = last_seq
            if self._due_for_rotation():
                self._rotate()
            elif not data:
                return
            self._publish_durable(last_seq, JournalPosition(self._file_base, self._file_bytes))

    def _due_for_rotation(self) -> bool:
        if self._file_bytes == 0:
            return False
        if self.rotate_bytes is not None and self._file_bytes >= self.rotate_bytes:
            return True
        return (
            self.rotate_seconds is not None
            and time.monotonic() - self._file_started >= self.rotate_seconds
        )

    def _rotate(self) -> None:
        """Close the active file as a segment and start a new one (caller holds _io_lock)."""
        os.fsync(self._fd)
        os.close(self._fd)
        os.rename(self.path, segment_path(self.path, self._file_base))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        fsync_directory(self.path.parent)
        self._file_base = self._written_seq + 1
        self._file_bytes = 0
        self._file_started = time.monotonic()

    def _publish_durable(self, seq: int, position: JournalPosition) -> None:
        with self._durable:
            self._durable_seq = seq
            self._durable_position = position
            self._durable.notify_all()
        for listener in self._listeners:
            listener.set()

    def add_listener(self, event: threading.Event) -> None:
        """Set `event` whenever new events become durable (the shipper waits on it)."""
        self._listeners.append(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event recorded so far is durable; False on timeout."""
        target = self._seq
        if self.fsync_mode == "always":
            return self._durable_seq >= target
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._durable:
            while self._durable_seq < target:
                if self._failure is not None:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._durable.wait(min(remaining, 0.1) if remaining is not None else 0.1)
        return True

    def rotate(self) -> None:
        """Start a new file now (after making everything recorded durable)."""
        self.flush()
        with self._io_lock:
            if self._file_bytes:
                self._rotate()
                self._publish_durable(
                    self._written_seq, JournalPosition(self._file_base, self._file_bytes)
                )

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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def acquire_writer_lock(journal: Path):
    """Hold `<journal>.lock` exclusively (the writer, or `agents-sdk ship` standing in for one);
    the returned file keeps the lock until it is closed."""
    path = lock_path(journal)
    handle = open(path, "a+")  # noqa: SIM115 - held by the caller
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise JournalLocked(
            f"journal {journal} is already open for writing (holder pid {holder}); "
            "a stream has exactly one writer",
            holder=holder,
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _set_aside_torn_tail(path: Path) -> TornTail | None:
    """Move any bytes after the last newline to `<journal>.torn` and truncate them off."""
    if not path.exists():
        return None
    size = path.stat().st_size
    if size == 0:
        return None
    with open(path, "r+b") as handle:
        block = 64 * 1024
        position = size
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            chunk = handle.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline != -1:
                cut = start + newline + 1
                break
            position = start
        else:
            cut = 0
        if cut == size:
            return None
        handle.seek(cut)
        torn = handle.read()
        target = torn_path(path)
        with open(target, "ab") as aside:
            aside.write(orjson.dumps({"found_at": time.time(), "offset": cut, "bytes": torn.hex()}))
            aside.write(b"\n")
            aside.flush()
            os.fsync(aside.fileno())
        handle.truncate(cut)
        handle.flush()
        os.fsync(handle.fileno())
        return TornTail(size=len(torn), moved_to=target)


def _read_head(path: Path) -> Head:
    """The chain head from the last complete line (of the active file, else the last segment)."""
    last = last_line(path)
    source = path
    if last is None:
        segments = list_segments(path)
        if segments:
            source = segments[-1].path
            last = last_line(source)
    if last is None:
        return Head(stream="", seq=-1, hash=GENESIS_HASH)
    try:
        event = orjson.loads(last)
        verify_event_hash(event)
    except (orjson.JSONDecodeError, InvalidEvent, KeyError, TypeError, ValueError) as exc:
        raise JournalCorrupt(
            f"the last event of {source} does not verify ({exc}); run `agents-sdk verify {path}`"
        ) from exc
    return Head(stream=event["stream"], seq=event["seq"], hash=event["hash"])


def _first_seq(path: Path) -> int:
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        return int(orjson.loads(first)["seq"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise JournalCorrupt(f"the first line of {path} is not an event ({exc})") from exc


def read_events(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield each complete event of a journal, segments first, streaming."""
    from agents_sdk.audit.segments import iter_journal_lines

    for _, _, line in iter_journal_lines(Path(path)):
        yield orjson.loads(line)
