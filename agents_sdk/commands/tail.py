"""`agents-sdk tail JOURNAL [-n N] [-f] [filters]`: the last events, and new ones as they come."""

from __future__ import annotations

import argparse
import sys
from collections import deque

from agents_sdk.audit.query import follow_lines
from agents_sdk.audit.segments import JournalPosition, iter_journal_lines
from agents_sdk.commands import Command, add_filter_arguments, event_filter, existing_journal

DESCRIPTION = """\
Print the last N matching events as JSON lines; with -f keep printing new
matching events as the agent records them (across file rotations) until
interrupted (Ctrl-C).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journal", type=existing_journal, help="the journal's active file path")
    parser.add_argument(
        "-n", "--lines", type=int, default=10, metavar="N", help="how many past events (default 10)"
    )
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    parser.add_argument(
        "--interval", type=float, default=0.2, help="seconds between looks for new events (-f)"
    )
    add_filter_arguments(parser)


def run(args: argparse.Namespace) -> int:
    where = event_filter(args)
    matches = where.matcher()
    last: deque[bytes] = deque(maxlen=max(0, args.lines))
    position: JournalPosition | None = None
    for file, offset, line in iter_journal_lines(args.journal):
        position = JournalPosition(file.base, offset)
        if matches(line):
            last.append(line)
    out = sys.stdout.buffer
    for line in last:
        out.write(line)
    out.flush()
    if not args.follow:
        return 0
    for line in follow_lines(args.journal, where, start=position, poll_interval=args.interval):
        out.write(line)
        out.flush()
    return 0


COMMAND = Command(
    name="tail",
    help="print the last events; -f follows new ones",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
