"""`agents-sdk query JOURNAL [filters]`: matching events as JSON lines, streaming."""

from __future__ import annotations

import argparse
import sys

from agents_sdk.audit.query import query_lines
from agents_sdk.commands import Command, add_filter_arguments, event_filter, existing_journal

DESCRIPTION = """\
Print the events of a journal (all rotated segments, then the active file) that
match every filter given, oldest first, one JSON object per line, exactly as
stored. Streams: memory stays flat whatever the journal's size.

matching: every filter given must hold (AND). --agent, --action and --result
compare exactly, case included (--result is one of success, failure, denied,
error). --user compares exactly too unless --user-match says ignore-case, or
prefix (case-insensitive: --user alice finds alice@example.com). --since and
--until bound the event's ts as [since, until), UTC when no zone is given. When
nothing matches, "0 matches" is printed on stderr (stdout stays JSON lines).

examples:
  agents-sdk query audit.jsonl --action tool_execute --result denied
  agents-sdk query audit.jsonl --user alice --user-match prefix
  agents-sdk query audit.jsonl --user alice --since 2026-11-01 --until 2026-11-02T00:00Z
  agents-sdk query audit.jsonl --result failure --count
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journal", type=existing_journal, help="the journal's active file path")
    add_filter_arguments(parser)
    parser.add_argument("--limit", type=int, metavar="N", help="stop after N events")
    parser.add_argument("--count", action="store_true", help="print only how many events match")


def run(args: argparse.Namespace) -> int:
    where = event_filter(args)
    out = sys.stdout.buffer
    count = 0
    for line in query_lines(args.journal, where):
        count += 1
        if not args.count:
            out.write(line)
        if args.limit is not None and count >= args.limit:
            break
    if args.count:
        print(count)
    out.flush()
    if count == 0 and not args.count:
        hint = ""
        if args.user is not None and args.user_match == "exact":
            hint = " (user ids compare exactly: --user-match ignore-case or prefix to loosen)"
        print(f"0 matches{hint}", file=sys.stderr)
    return 0


COMMAND = Command(
    name="query",
    help="print matching events as JSON lines",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
