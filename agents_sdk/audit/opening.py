"""What opening a journal checks: one writer (an exclusive lock), a torn tail set aside,
the chain head read from the last complete line and verified."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from agents_sdk.audit.chain import GENESIS_HASH, InvalidEvent, verify_event_hash
from agents_sdk.audit.segments import iter_journal_lines, last_line, list_segments


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


def acquire_writer_lock(journal: Path) -> IO[str]:
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


def set_aside_torn_tail(path: Path) -> TornTail | None:
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


def read_head(path: Path) -> Head:
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


def first_seq_of(path: Path) -> int:
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        return int(orjson.loads(first)["seq"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise JournalCorrupt(f"the first line of {path} is not an event ({exc})") from exc


def read_events(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield each complete event of a journal, segments first, streaming."""
    for _, _, line in iter_journal_lines(Path(path)):
        yield orjson.loads(line)
