"""Verify a journal on disk: every line, every link, across rotated segments.

The report is per stream (a journal holds one, but a directory of copies or a
concatenation may hold several): how many events verified, the seq range, and
the first broken link with its reason. A torn last line (a crash mid-write not
yet set aside by a writer) and tails already set aside are reported, not
counted as tampering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from agents_sdk.audit.chain import (
    GENESIS_HASH,
    InvalidEvent,
    validate_envelope,
    verify_event_hash,
    verify_personal_data,
)
from agents_sdk.audit.segments import JournalFile, first_seq, journal_files


@dataclass(frozen=True, slots=True)
class BrokenLink:
    file: Path
    line: int  # 1-based line number in `file`
    seq: int | None
    event_id: str | None
    reason: str

    def describe(self) -> str:
        where = f"{self.file.name} line {self.line}"
        what = f"seq {self.seq}" if self.seq is not None else "an unreadable line"
        event = f" (event {self.event_id})" if self.event_id else ""
        return f"{what}{event} at {where}: {self.reason}"


@dataclass(slots=True)
class StreamReport:
    stream: str
    agent_ids: set[str] = field(default_factory=set)
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None  # last seq of the verified prefix
    last_hash: str = GENESIS_HASH
    broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass(slots=True)
class JournalReport:
    path: Path
    files: list[JournalFile] = field(default_factory=list)
    streams: dict[str, StreamReport] = field(default_factory=dict)
    unreadable: list[BrokenLink] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # file-level (rotation) problems
    torn_tail_bytes: int = 0  # an unterminated last line, not yet set aside
    set_aside_tails: int = 0  # entries in <journal>.torn
    events: int = 0
    last_seen_seq: int | None = None  # of the last line read, valid or not

    @property
    def ok(self) -> bool:
        return (
            not self.unreadable
            and not self.problems
            and all(report.ok for report in self.streams.values())
            and bool(self.files)
        )


def verify_journal(
    path: str | Path,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 100_000,
) -> JournalReport:
    """Walk every file of the journal at `path`; calls `progress(bytes_done, bytes_total)`."""
    path = Path(path)
    report = JournalReport(path=path, files=journal_files(path))
    if not report.files:
        report.problems.append(f"no journal at {path}")
        return report
    total = sum(file.path.stat().st_size for file in report.files if file.path.exists())
    done = 0
    expected_base: int | None = None
    for file in report.files:
        held = first_seq(file.path)
        if not file.active and held != file.base:
            report.problems.append(
                f"segment {file.path.name} is named for seq {file.base} but starts at seq {held}"
            )
        if expected_base is not None and held is not None and held != expected_base:
            report.problems.append(
                f"{file.path.name} starts at seq {held}; the previous file ended before "
                f"seq {expected_base}"
            )
        line_number = 0
        with open(file.path, "rb", buffering=1 << 20) as handle:
            for line in handle:
                line_number += 1
                done += len(line)
                if not line.endswith(b"\n"):
                    if file.active:
                        report.torn_tail_bytes = len(line)
                    else:
                        report.problems.append(f"segment {file.path.name} ends in a torn line")
                    break
                _check_line(report, file, line_number, line)
                if progress is not None and report.events % progress_every == 0:
                    progress(done, total)
        last = report.last_seen_seq if len(report.streams) == 1 else None
        expected_base = None if last is None else last + 1
    torn = path.with_name(path.name + ".torn")
    if torn.exists():
        report.set_aside_tails = sum(1 for line in torn.read_bytes().splitlines() if line.strip())
    if progress is not None:
        progress(total, total)
    return report


def _check_line(report: JournalReport, file: JournalFile, number: int, line: bytes) -> None:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        report.unreadable.append(BrokenLink(file.path, number, None, None, f"not JSON ({exc})"))
        return
    stream_id = event.get("stream") if isinstance(event, dict) else None
    if not isinstance(stream_id, str):
        report.unreadable.append(BrokenLink(file.path, number, None, None, "no stream field"))
        return
    stream = report.streams.get(stream_id)
    if stream is None:
        stream = report.streams[stream_id] = StreamReport(stream=stream_id)
    report.events += 1
    seq = event.get("seq")
    event_id = event.get("event_id")
    if type(seq) is int:
        report.last_seen_seq = seq
    if stream.broken is not None:
        return  # past the first broken link, later links prove nothing

    def broken(reason: str) -> None:
        stream.broken = BrokenLink(
            file.path, number, seq if isinstance(seq, int) else None, event_id, reason
        )

    try:
        validate_envelope(event)
        verify_event_hash(event)
        verify_personal_data(event)
    except InvalidEvent as exc:
        broken(str(exc))
        return
    expected = 0 if stream.last_seq is None else stream.last_seq + 1
    if seq != expected:
        broken(f"seq {seq} follows seq {stream.last_seq}; expected {expected}")
        return
    if event["prev_hash"] != stream.last_hash:
        broken(
            f"prev_hash {event['prev_hash'][:12]}… does not link to the hash of seq "
            f"{stream.last_seq} ({stream.last_hash[:12]}…)"
        )
        return
    if stream.first_seq is None:
        stream.first_seq = seq
    stream.last_seq = seq
    stream.last_hash = event["hash"]
    stream.events += 1
    stream.agent_ids.add(event["agent_id"])
