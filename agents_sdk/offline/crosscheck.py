"""Compare a local journal with the portal's copy of its stream, over the REST API.

`agents-sdk verify --against URL JOURNAL` (or `python -m agents_sdk.offline
crosscheck`) reports events the server is missing, events only the server has,
and events whose content differs. Only the standard library is used (urllib).

To expose it in the `agents-sdk` command line: `register(subparsers)` adds a
`crosscheck` subcommand; for `verify --against`, call `add_against_arguments()`
in the verify command's arguments and `run_crosscheck(args)` when `args.against`
is set (it reads `args.journal`, `args.against`, `args.token`, `args.json`).

The portal's API is read in `portal_api`; what one stream's comparison found, and its
wording, is `crosscheck_result`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from agents_sdk.audit.chain import hashed_body
from agents_sdk.audit.journal import read_events
from agents_sdk.offline.crosscheck_result import CrossCheck, describe
from agents_sdk.offline.portal_api import (
    ServerUnavailable,
    pruned_of,
    server_events,
    server_personal_data,
    server_stream,
    signed_head_of,
)
from agents_sdk.shipping.cursor import cursor_path, load_cursor

# The names this module has always offered, wherever they now live.
__all__ = [
    "HELP",
    "CrossCheck",
    "ServerUnavailable",
    "add_against_arguments",
    "add_arguments",
    "crosscheck",
    "describe",
    "pruned_of",
    "register",
    "run_crosscheck",
    "server_events",
    "server_personal_data",
    "server_stream",
    "signed_head_of",
]


def _agent_key_problem(
    journal: Path, by_seq: dict[int, dict[str, Any]], head: dict[str, Any] | None
) -> str | None:
    """Why the portal's signed head is not this journal's own, if it is not."""
    from agents_sdk.audit.head_signing import HeadKeyError, key_fingerprint, load_key

    try:
        signer = load_key(journal)
    except HeadKeyError as exc:
        return str(exc)
    if head is None:
        if signer is None:
            return None  # a journal that predates agent keys: nothing to compare
        shipped = [seq for seq in by_seq if seq <= (_acknowledged(journal) or -1)]
        if not shipped:
            return None
        return (
            "the portal holds no head signed by this journal's agent key "
            f"{signer.fingerprint}, though events it acknowledged were shipped signed"
        )
    fingerprint = str(head.get("fingerprint"))
    if signer is not None and fingerprint != key_fingerprint(signer.public_key):
        return (
            f"the portal's latest signed head (seq {head.get('seq')}) is signed with key "
            f"{fingerprint}, not this journal's key {signer.fingerprint}"
        )
    mine = by_seq.get(head.get("seq"))  # type: ignore[arg-type]
    if mine is None or mine["hash"] != head.get("hash"):
        return (
            f"the portal's latest signed head names seq {head.get('seq')} with hash "
            f"{str(head.get('hash'))[:12]}…, which is not an event of this journal"
        )
    return None


def _acknowledged(journal: Path) -> int | None:
    """The last seq the shipper saw acknowledged, from its cursor beside the journal."""
    if not cursor_path(journal).exists():
        return None
    try:
        return load_cursor(journal).seq
    except (OSError, ValueError, KeyError):
        return None


def crosscheck(journal: Path, base_url: str, token: str | None) -> list[CrossCheck]:
    """Compare every stream found in `journal` with the server's copy."""
    local: dict[str, dict[int, dict[str, Any]]] = {}
    for event in read_events(journal):
        local.setdefault(event["stream"], {})[event["seq"]] = event
    acknowledged = _acknowledged(journal)
    results = []
    for stream, by_seq in local.items():
        check = CrossCheck(stream=stream, local=len(by_seq), acknowledged_seq=acknowledged)
        remote: dict[int, dict[str, Any]] = {}
        for event in server_events(base_url, stream, token):
            remote[event["seq"]] = event
        check.server = len(remote)
        detail = server_stream(base_url, stream, token)
        check.pruned = pruned_of(detail)
        pruned_to = _check_pruned(check, by_seq)
        if any(event.get("pii") for event in by_seq.values()) and remote:
            state = server_personal_data(base_url, stream, token)
            cited = {
                (e.get("seq"), e.get("field")): str(e.get("reference") or e.get("request"))
                for e in state.get("erased", [])
                if isinstance(e, dict)
            }
            gone = {(p[0], p[1]) for p in state.get("missing", []) if isinstance(p, list)}
            for seq, event in by_seq.items():
                for name in event.get("pii") or {}:
                    if (seq, name) in gone and seq in remote:
                        check.personal_gone[(seq, name)] = cited.get((seq, name))
        check.signed_head = signed_head_of(detail)
        check.agent_key_problem = _agent_key_problem(journal, by_seq, check.signed_head)
        for seq in sorted(by_seq.keys() | remote.keys()):
            mine, theirs = by_seq.get(seq), remote.get(seq)
            if theirs is None and seq <= pruned_to:
                check.pruned_count += 1
            elif theirs is None:
                check.missing.append(seq)
            elif mine is None:
                check.extra.append(seq)
            elif mine["hash"] != theirs.get("hash") or hashed_body(mine) != _body(theirs):
                check.different.append((seq, mine["hash"], str(theirs.get("hash"))))
                check.altered_fields[seq] = sorted(
                    name for name, value in hashed_body(mine).items() if theirs.get(name) != value
                )
        results.append(check)
    return results


def _check_pruned(check: CrossCheck, by_seq: dict[int, dict[str, Any]]) -> int:
    """The last seq the portal's pruned ranges explain (-1: none). A range must start where
    the one before ended, and the hash it kept must be the journal's at its end: a range
    that fails either explains nothing, and its seqs are reported missing."""
    pruned_to, expected = -1, 0
    for entry in sorted(check.pruned, key=lambda p: p.get("to", -1)):
        start, end = entry.get("from"), entry.get("to")
        at = end if isinstance(end, int) else -1
        mine = by_seq.get(at)
        if (
            start != expected
            or at < 0
            or (mine is not None and mine["hash"] != entry.get("last_hash"))
        ):
            check.different.append((at, mine["hash"] if mine else "", str(entry.get("last_hash"))))
            check.altered_fields[at] = ["prune anchor"]
            break
        pruned_to, expected = at, at + 1
    return pruned_to


def _body(event: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return hashed_body(event)
    except KeyError:
        return None


def add_against_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the cross-check, for reuse by `agents-sdk verify --against URL`."""
    parser.add_argument(
        "--against",
        metavar="URL",
        help="compare with the portal's copy of the journal's streams (its base URL)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("AGENTS_SDK_API_TOKEN"),
        help="API token of a portal user (not the agent's ingest token), for --against: "
        "`python manage.py issue_api_token <user>` on the portal, printed once "
        "(default: $AGENTS_SDK_API_TOKEN)",
    )


def run_crosscheck(args: argparse.Namespace) -> int:
    """Exit code 0: the server agrees with the journal; 1: differences; 2: cannot compare."""
    if not args.against:
        print("--against URL is required", file=sys.stderr)
        return 2
    try:
        results = crosscheck(Path(args.journal), args.against, args.token)
    except ServerUnavailable as exc:
        print(f"cannot read the server's copy: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot read the journal: {exc}", file=sys.stderr)
        return 2
    as_json = getattr(args, "json", False)
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    for r in results if not as_json else []:
        print(describe(r))
    return 0 if all(r.agrees for r in results) else 1


HELP = "compare a local journal with the portal's copy of its stream"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journal", help="the journal's active file path")
    add_against_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `crosscheck JOURNAL --against URL` to an argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser("crosscheck", help=HELP)
    add_arguments(parser)
    parser.set_defaults(func=run_crosscheck)
    return parser
