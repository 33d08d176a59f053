"""`agents-sdk verify JOURNAL`: walk every link of a journal, across rotated segments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from agents_sdk.audit.verify import JournalReport, verify_journal
from agents_sdk.commands import Command, existing_journal
from agents_sdk.offline.crosscheck import add_against_arguments, run_crosscheck

if TYPE_CHECKING:
    from agents_sdk.audit.segments import JournalFile

DESCRIPTION = """\
Recompute every event's hash (RFC 8785 + SHA-256, as DESIGN.md specifies) and
check every link, walking rotated segments in order and then the active file.

Prints a report per stream: the verified seq range and, if any, the first
broken link with its file, line and reason. A torn last line (a crash
mid-write) is reported but is not a broken chain.

With --against URL, compare the journal with the portal's copy of its streams
instead (events missing on the server, only on the server, or different). That
reads the portal's REST API with a portal user's API token (--token, or
$AGENTS_SDK_API_TOKEN), not the agent's ingest token: an administrator creates
one with `python manage.py issue_api_token <user>` (printed once; it expires).

exit status: 0 every stream verifies (or the portal agrees), 1 a link is broken,
             a line is unreadable (or the portal differs), 2 usage error (e.g. no
             journal at that path, or the portal cannot be asked)
"""

# Progress goes to stderr for journals at least this big (or with --progress).
PROGRESS_BYTES = 64 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journal", type=existing_journal, help="the journal's active file path")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", action="store_true", help="always report progress")
    progress.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    add_against_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.against:
        return run_crosscheck(args)
    total = sum(f.path.stat().st_size for f in _files(args.journal))
    show = args.progress or (not args.quiet and total >= PROGRESS_BYTES)
    report = verify_journal(args.journal, progress=_progress_printer() if show else None)
    if args.json:
        print(orjson.dumps(as_dict(report), option=orjson.OPT_INDENT_2).decode())
    else:
        print_report(report, quiet=args.quiet)
    return 0 if report.ok else 1


def _files(journal: Path) -> list[JournalFile]:
    from agents_sdk.audit.segments import journal_files

    return journal_files(journal)


def _progress_printer() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        percent = 100 * done / total if total else 100
        print(
            f"verifying: {percent:5.1f}% ({done / 1e6:,.0f} of {total / 1e6:,.0f} MB)",
            file=sys.stderr,
            flush=True,
        )

    return show


def as_dict(report: JournalReport) -> dict[str, Any]:
    return {
        "journal": str(report.path),
        "ok": report.ok,
        "files": [
            {"path": str(f.path), "first_seq": f.base, "active": f.active} for f in report.files
        ],
        "events": report.events,
        "streams": [
            {
                "stream": s.stream,
                "agent_ids": sorted(s.agent_ids),
                "verified_events": s.events,
                "first_seq": s.first_seq,
                "last_verified_seq": s.last_seq,
                "broken": None
                if s.broken is None
                else {
                    "file": str(s.broken.file),
                    "line": s.broken.line,
                    "seq": s.broken.seq,
                    "event_id": s.broken.event_id,
                    "reason": s.broken.reason,
                },
            }
            for s in report.streams.values()
        ],
        "unreadable": [b.describe() for b in report.unreadable],
        "problems": report.problems,
        "torn_tail_bytes": report.torn_tail_bytes,
        "set_aside_tails": report.set_aside_tails,
    }


def print_report(report: JournalReport, quiet: bool = False) -> None:
    segments = sum(1 for f in report.files if not f.active)
    if not quiet:
        print(
            f"journal {report.path}: {len(report.files)} file(s) ({segments} rotated segment(s)),"
            f" {report.events} event(s)"
        )
    for stream in report.streams.values():
        agents = ", ".join(sorted(stream.agent_ids)) or "-"
        span = (
            f"seq {stream.first_seq}..{stream.last_seq}"
            if stream.last_seq is not None
            else "no verified event"
        )
        if stream.ok:
            if not quiet:
                print(
                    f"stream {stream.stream} (agent {agents}): OK, {span}, {stream.events} events"
                )
        else:
            assert stream.broken is not None
            print(f"stream {stream.stream} (agent {agents}): BROKEN; verified {span}")
            print(f"  first broken link: {stream.broken.describe()}")
    for line in report.unreadable:
        print(f"unreadable: {line.describe()}")
    for problem in report.problems:
        print(f"problem: {problem}")
    if report.torn_tail_bytes:
        print(
            f"torn tail: {report.torn_tail_bytes} byte(s) after the last complete line "
            "(a crash mid-write; the next writer sets it aside)"
        )
    if report.set_aside_tails and not quiet:
        print(
            f"set aside earlier: {report.set_aside_tails} torn tail(s) in {report.path.name}.torn"
        )
    if not quiet or not report.ok:
        print("result: OK" if report.ok else "result: FAILED")


COMMAND = Command(
    name="verify",
    help="verify a journal's hash chain (exit 0 when whole, 1 when broken)",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
