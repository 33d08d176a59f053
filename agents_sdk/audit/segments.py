"""A journal's files: rotated segments in seq order, then the active file; streaming readers.

A segment is named after the seq of its first event (`<journal>.<16 digits>`),
so its identity survives the rename that rotation does: a reader or the
shipper's cursor names a file by that first seq (its `base`), never by path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import orjson

SEGMENT_DIGITS = 16


class JournalPosition(NamedTuple):
    """A place in a journal: the file holding events from seq `base`, a byte offset in it."""

    base: int
    offset: int


@dataclass(frozen=True, slots=True)
class JournalFile:
    base: int  # seq of its first event; for an empty active file, the next seq
    path: Path
    active: bool


def segment_path(journal: Path, base: int) -> Path:
    return journal.with_name(f"{journal.name}.{base:0{SEGMENT_DIGITS}d}")


def list_segments(journal: Path) -> list[JournalFile]:
    """Rotated segments of `journal`, oldest first."""
    prefix = journal.name + "."
    found = []
    try:
        names = os.listdir(journal.parent)
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith(prefix):
            suffix = name[len(prefix) :]
            if len(suffix) == SEGMENT_DIGITS and suffix.isdigit():
                found.append(JournalFile(int(suffix), journal.parent / name, active=False))
    found.sort(key=lambda f: f.base)
    return found


def first_seq(path: Path) -> int | None:
    """Seq of the first complete event in a file; None when it has none."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
    except FileNotFoundError:
        return None
    if not first.endswith(b"\n"):
        return None
    try:
        return int(orjson.loads(first)["seq"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def journal_files(journal: Path) -> list[JournalFile]:
    """Every file of a journal in seq order: segments, then the active file (if any)."""
    files = list_segments(journal)
    if journal.exists():
        base = first_seq(journal)
        if base is None:  # empty (or only a torn line): it will hold the next events
            base = _last_seq(files[-1].path, files[-1].base) + 1 if files else 0
        files.append(JournalFile(base, journal, active=True))
    return files


def _last_seq(path: Path, default: int) -> int:
    last = last_line(path)
    if last is None:
        return default - 1
    return int(orjson.loads(last)["seq"])


def last_line(path: Path) -> bytes | None:
    """The last complete line of a file (read backwards), or None."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        size = handle.seek(0, os.SEEK_END)
        block = 64 * 1024
        position = size
        buffer = b""
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            buffer = handle.read(position - start) + buffer
            end = buffer.rfind(b"\n")
            if end == -1:
                position = start
                continue
            newline = buffer.rfind(b"\n", 0, end)
            if newline != -1:
                return buffer[newline + 1 : end]
            position = start
        end = buffer.rfind(b"\n")
        return buffer[:end] if end > 0 else None


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_lines(
    path: str | os.PathLike[str], offset: int = 0, limit_offset: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield (offset after the line, line) for each complete line of one file from `offset`."""
    with open(path, "rb", buffering=1 << 20) as handle:
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


def open_file_at(journal: Path, base: int) -> tuple[JournalFile, BinaryIO] | None:
    """Open the file of `journal` whose first seq is `base`, rotation-safe.

    The active file may be renamed to a segment between listing and opening;
    the base read back from the opened handle tells which file we really hold.
    """
    for _ in range(5):
        for file in journal_files(journal):
            if file.base != base:
                continue
            try:
                handle = open(file.path, "rb", buffering=1 << 20)  # noqa: SIM115 - returned
            except FileNotFoundError:
                break  # renamed meanwhile: list again
            first = handle.readline()
            handle.seek(0)
            if not first:  # empty active file: it is the one that will hold `base`
                return file, handle
            try:
                held = int(orjson.loads(first)["seq"]) if first.endswith(b"\n") else base
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                held = base
            if held == base:
                return file, handle
            handle.close()
            break
        else:
            return None
    return None


def iter_journal_lines(
    journal: Path, start: JournalPosition | None = None
) -> Iterator[tuple[JournalFile, int, bytes]]:
    """Yield (file, offset after the line, line) across every file of `journal`, in seq order."""
    files = journal_files(journal)
    if not files:
        return
    if start is None:
        start = JournalPosition(files[0].base, 0)
    for file in files:
        if file.base < start.base:
            continue
        offset = start.offset if file.base == start.base else 0
        opened = open_file_at(journal, file.base)
        if opened is None:
            continue
        held, handle = opened
        with handle:
            handle.seek(offset)
            position = offset
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                position += len(line)
                yield held, position, line
