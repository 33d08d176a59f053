"""`agents-sdk` / `python -m agents_sdk`: verify, query, tail and ship a local audit journal.

Each subcommand lives in `agents_sdk/commands/<name>.py` as a `Command` and is
listed in `agents_sdk.commands.COMMANDS`; adding one is a module and a line.
Exit codes: 0 success, 1 the check failed (a broken chain, events left
unshipped), 2 usage or input errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agents_sdk.commands import COMMANDS, CommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agents-sdk",
        description="Inspect, verify and ship an agents_sdk audit journal (hash-chained JSONL).",
        epilog="Run `agents-sdk COMMAND --help` for a command's options.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CommandError as exc:
        print(f"agents-sdk {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `agents-sdk query ... | head`
        sys.stderr.close()
        return 0
