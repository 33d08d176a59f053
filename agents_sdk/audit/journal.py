"""The append-only JSONL journal: one writer, a hash chain, durable group commit.

Each line is one envelope-v1 event. The writer holds an exclusive `flock` on
`<journal>.lock` for its lifetime, so a second writer (another process or
another object in this one) is refused instead of forking the chain. A torn
last line left by a crash is moved to `<journal>.torn` on reopen, never merged.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from agents_sdk.audit.canonical import NotCanonicalizable
from agents_sdk.audit.chain import (
    ENVELOPE_VERSION,
    GENESIS_HASH,
    MAX_LENGTHS,
    RESULTS,
    InvalidEvent,
    commit_personal_value,
    seal,
    verify_event_hash,
)
from agents_sdk.audit.clock import UtcTimestamps, uuid7

FsyncMode = Literal["batch", "always", "never"]
FSYNC_MODES: tuple[str, ...] = ("batch", "always", "never")
# Group-commit window for fsync="batch": the longest an event waits to be durable.
BATCH_FLUSH_INTERVAL = 0.002


class JournalError(Exception):
    """Base class for journal problems."""


class JournalLocked(JournalError):
    """Another writer holds the journal."""


class JournalCorrupt(JournalError):
    """The journal's last complete event does not verify, so the chain cannot continue."""


class JournalClosed(JournalError):
    """The journal was closed; no more events can be recorded."""


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


class JournalWriter:
    """Appends envelope-v1 events to a journal file and keeps its hash chain."""

    def __init__(self, path: str | os.PathLike[str], agent_id: str, fsync: FsyncMode = "batch"):
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_MODES)}, got {fsync!r}")
        if not agent_id or not isinstance(agent_id, str):
            raise ValueError("agent_id must be a non-empty string")
        self.path = Path(path)
        self.agent_id = agent_id
        self.fsync_mode = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = _acquire_writer_lock(lock_path(self.path))
        try:
            self.torn_tail = _set_aside_torn_tail(self.path)
            self.head = _read_head(self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except BaseException:
            self._lock_file.close()
            raise
        self._stream = self.head.stream or uuid7()
        self._seq = self.head.seq
        self._prev_hash = self.head.hash
        self._clock = UtcTimestamps()
        self._lock = threading.Lock()
        self._closed = False
        self._written_offset = os.fstat(self._fd).st_size
        self._accepted_offset = self._written_offset  # bytes recorded, durable or not
        self._durable_offset = self._written_offset
        self._durable = threading.Condition()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
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
        return self._seq

    @property
    def durable_offset(self) -> int:
        """Bytes of the file known to be complete (and fsynced, unless fsync='never')."""
        return self._durable_offset

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
        if not isinstance(action, str) or not action:
            raise InvalidEvent("action must be a non-empty string")
        if result not in RESULTS:
            raise InvalidEvent(f"result {result!r} is not one of {', '.join(sorted(RESULTS))}")
        details = {} if details is None else details
        if not isinstance(details, dict):
            raise InvalidEvent(f"details must be a dict, got {type(details).__name__}")
        for name, value in (("user_id", user_id), ("resource", resource)):
            if value is not None and not isinstance(value, str):
                raise InvalidEvent(f"{name} must be a string or None, got {type(value).__name__}")
        for name, value in (("action", action), ("user_id", user_id), ("resource", resource)):
            if value is not None and len(value) > MAX_LENGTHS[name]:
                raise InvalidEvent(
                    f"{name} is {len(value)} characters; the limit is {MAX_LENGTHS[name]}"
                )
        commitments: dict[str, str] = {}
        sidecar: dict[str, dict[str, Any]] = {}
        if personal_data:
            for name, value in personal_data.items():
                try:
                    committed = commit_personal_value(value)
                except NotCanonicalizable as exc:
                    raise InvalidEvent(f"personal_data[{name!r}]: {exc}") from exc
                commitments[name] = committed.commitment
                sidecar[name] = {"value": committed.value, "salt": committed.salt}
        with self._lock:
            if self._closed:
                raise JournalClosed(f"journal {self.path} is closed")
            body = {
                "v": ENVELOPE_VERSION,
                "event_id": uuid7(),
                "stream": self._stream,
                "seq": self._seq + 1,
                "ts": self._clock.now(),
                "agent_id": self.agent_id,
                "action": action,
                "result": result,
                "user_id": user_id,
                "resource": resource,
                "details": details,
                "trace_id": trace_id,
                "span_id": span_id,
                "pii_commitments": commitments,
                "prev_hash": self._prev_hash,
            }
            try:
                digest, canonical = seal(body)
            except NotCanonicalizable as exc:
                raise InvalidEvent(f"details are not plain JSON: {exc}") from exc
            # The line is the canonical body with `hash` (and the sidecar) appended:
            # still one JSON object, and no second serialization on the hot path.
            tail = b',"hash":"' + digest.encode() + b'"'
            if sidecar:
                tail += b',"pii":' + orjson.dumps(sidecar)
            line = canonical[:-1] + tail + b"}\n"
            self._seq += 1
            self._prev_hash = digest
            self._accepted_offset += len(line)
            if self.fsync_mode == "always":
                self._write_durably(line)
            else:
                self._pending.append(line)
                self._pending_bytes += len(line)
                if self._pending_bytes >= 1 << 20:
                    self._wake.set()
        body["hash"] = digest
        if sidecar:
            body["pii"] = sidecar
        return body

    def _write_durably(self, line: bytes) -> None:
        _write_all(self._fd, line)
        os.fsync(self._fd)
        self._written_offset += len(line)
        self._publish_durable(self._written_offset)

    # -- durability --------------------------------------------------------

    def _flush_loop(self) -> None:
        while True:
            self._wake.wait(BATCH_FLUSH_INTERVAL)
            self._wake.clear()
            closed = self._closed
            self._flush_pending()
            if closed:
                return

    def _flush_pending(self) -> None:
        with self._lock:
            lines, self._pending, self._pending_bytes = self._pending, [], 0
        if not lines:
            return
        data = b"".join(lines)
        _write_all(self._fd, data)
        if self.fsync_mode == "batch":
            os.fsync(self._fd)
        self._written_offset += len(data)
        self._publish_durable(self._written_offset)

    def _publish_durable(self, offset: int) -> None:
        with self._durable:
            self._durable_offset = offset
            self._durable.notify_all()
        for listener in self._listeners:
            listener.set()

    def add_listener(self, event: threading.Event) -> None:
        """Set `event` whenever new events become durable (the shipper waits on it)."""
        self._listeners.append(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event recorded so far is durable; False on timeout."""
        with self._lock:
            target = self._accepted_offset
        if self.fsync_mode == "always":
            return True
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._durable:
            while self._durable_offset < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._durable.wait(remaining if remaining is not None else 0.1)
        return True

    def close(self) -> None:
        """Flush what is pending, release the file and the writer lock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._flusher is not None:
            self._wake.set()
            self._flusher.join()
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


def _acquire_writer_lock(path: Path):
    handle = open(path, "a+")  # noqa: SIM115 - held for the writer's lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise JournalLocked(
            f"journal {path.with_suffix('')} is already open for writing (holder pid {holder}); "
            "a stream has exactly one writer"
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
    """The chain head from the last complete line, which must verify."""
    last = _last_line(path)
    if last is None:
        return Head(stream="", seq=-1, hash=GENESIS_HASH)
    try:
        event = orjson.loads(last)
        verify_event_hash(event)
    except (orjson.JSONDecodeError, InvalidEvent, KeyError, TypeError, ValueError) as exc:
        raise JournalCorrupt(
            f"the last event of {path} does not verify ({exc}); run `agents-sdk verify {path}`"
        ) from exc
    return Head(stream=event["stream"], seq=event["seq"], hash=event["hash"])


def _last_line(path: Path) -> bytes | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        block = 64 * 1024
        position = size
        buffer = b""
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            buffer = handle.read(position - start) + buffer
            stripped = buffer.rstrip(b"\n")
            newline = stripped.rfind(b"\n")
            if newline != -1:
                return stripped[newline + 1 :]
            position = start
        return buffer.rstrip(b"\n") or None


def read_lines(
    path: str | os.PathLike[str], offset: int = 0, limit_offset: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield (offset after the line, line) for each complete line from `offset`."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        position = offset
        for line in handle:
            if not line.endswith(b"\n"):
                return
            end = position + len(line)
            if limit_offset is not None and end > limit_offset:
                return
            position = end
            yield position, line


def read_events(path: str | os.PathLike[str], offset: int = 0) -> Iterator[dict[str, Any]]:
    """Yield each complete event of a journal, streaming."""
    for _, line in read_lines(path, offset):
        yield orjson.loads(line)
