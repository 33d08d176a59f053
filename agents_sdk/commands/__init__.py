"""The CLI's subcommands: each module defines one `Command`; `COMMANDS` lists them in order."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents_sdk.audit.query import EventFilter


class CommandError(Exception):
    """A usage or input problem: printed without a traceback, exit code 2."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


def existing_journal(value: str) -> Path:
    """argparse type: a journal path with at least one file (active or segment)."""
    from agents_sdk.audit.segments import journal_files

    path = Path(value)
    if not journal_files(path):
        raise argparse.ArgumentTypeError(f"no journal at {value}")
    return path


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (combined with AND)")
    group.add_argument("--agent", metavar="AGENT_ID", help="events of this agent_id")
    group.add_argument("--action", help="events with this action, e.g. tool_execute")
    group.add_argument(
        "--user", metavar="USER_ID", help="events on behalf of this user_id (see --user-match)"
    )
    group.add_argument(
        "--user-match",
        choices=("exact", "ignore-case", "prefix"),
        default="exact",
        help="how --user compares: exactly (default), ignoring case, or as a prefix ignoring "
        "case (--user alice finds alice@example.com)",
    )
    group.add_argument(
        "--result",
        choices=("success", "failure", "denied", "error"),
        help="events with this outcome",
    )
    group.add_argument(
        "--since", metavar="TIME", help="at or after TIME (ISO 8601, UTC if no zone)"
    )
    group.add_argument("--until", metavar="TIME", help="before TIME (ISO 8601, UTC if no zone)")


def event_filter(args: argparse.Namespace) -> EventFilter:
    from agents_sdk.audit.query import EventFilter

    try:
        return EventFilter.build(
            agent_id=args.agent,
            action=args.action,
            user_id=args.user,
            result=args.result,
            since=args.since,
            until=args.until,
            user_match=args.user_match,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _commands() -> list[Command]:
    from agents_sdk.commands import agent_key, query, ship, tail, verify
    from agents_sdk.offline import cli as bundle
    from agents_sdk.offline import crosscheck

    return [
        verify.COMMAND,
        query.COMMAND,
        tail.COMMAND,
        ship.COMMAND,
        agent_key.COMMAND,
        Command(
            "verify-bundle",
            bundle.HELP,
            bundle.add_arguments,
            bundle.run_verify_bundle,
            bundle.DESCRIPTION,
        ),
        Command(
            "verify-report",
            bundle.REPORT_HELP,
            bundle.add_report_arguments,
            bundle.run_verify_report,
            bundle.REPORT_DESCRIPTION,
        ),
        Command(
            "crosscheck",
            crosscheck.HELP,
            crosscheck.add_arguments,
            crosscheck.run_crosscheck,
            "Same as `agents-sdk verify --against URL JOURNAL`.",
        ),
    ]


COMMANDS: list[Command] = _commands()
