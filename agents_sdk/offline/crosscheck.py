"""Compare a local journal with the portal's copy of its stream, over the REST API.

`agents-sdk verify --against URL JOURNAL` (or `python -m agents_sdk.offline
crosscheck`) reports events the server is missing, events only the server has,
and events whose content differs. Only the standard library is used (urllib).

To expose it in the `agents-sdk` command line: `register(subparsers)` adds a
`crosscheck` subcommand; for `verify --against`, call `add_against_arguments()`
in the verify command's arguments and `run_crosscheck(args)` when `args.against`
is set (it reads `args.journal`, `args.against`, `args.token`, `args.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents_sdk.audit.chain import hashed_body
from agents_sdk.audit.journal import read_events
from agents_sdk.shipping.cursor import cursor_path, load_cursor

PAGE_SIZE = 1000
SHOWN = 20


class ServerUnavailable(Exception):
    """The portal could not be asked (network, HTTP error, bad token)."""


@dataclass
class CrossCheck:
    stream: str
    local: int = 0
    server: int = 0
    missing: list[int] = field(default_factory=list)  # in the journal, not on the server
    extra: list[int] = field(default_factory=list)  # on the server, not in the journal
    different: list[tuple[int, str, str]] = field(default_factory=list)  # seq, local, server
    # seq -> the envelope fields whose server value differs (same hash, other content)
    altered_fields: dict[int, list[str]] = field(default_factory=dict)
    acknowledged_seq: int | None = None  # the last seq the portal acknowledged, if known
    # Ranges retention pruned, as the portal states them (its signed prune anchors):
    # {"from", "to", "policy", "date", "last_hash"}; their seqs are not missing.
    pruned: list[dict[str, Any]] = field(default_factory=list)
    pruned_count: int = 0
    # personal data the journal has and the server no longer holds: (seq, field) -> the
    # reference of the erasure request the portal cites, or None (no request: tampering)
    personal_gone: dict[tuple[int, str], str | None] = field(default_factory=dict)

    # The portal's latest agent-signed head of the stream (its API's `signed_head`), and
    # why it does not match this journal and its key, if it does not.
    signed_head: dict[str, Any] | None = None
    agent_key_problem: str | None = None

    @property
    def erased(self) -> dict[tuple[int, str], str]:
        return {k: v for k, v in self.personal_gone.items() if v is not None}

    @property
    def unexplained(self) -> list[tuple[int, str]]:
        return sorted(k for k, v in self.personal_gone.items() if v is None)

    @property
    def agrees(self) -> bool:
        return not (
            self.missing
            or self.extra
            or self.different
            or self.unexplained
            or self.agent_key_problem
        )

    @property
    def lost(self) -> list[int]:
        """Missing events the portal had acknowledged: deleted or lost on the server."""
        ack = self.acknowledged_seq
        return [seq for seq in self.missing if ack is not None and seq <= ack]

    @property
    def unshipped(self) -> list[int]:
        ack = self.acknowledged_seq
        return [seq for seq in self.missing if ack is None or seq > ack]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "local": self.local,
            "server": self.server,
            "missing": self.missing,
            "extra": self.extra,
            "different": [
                {
                    "seq": s,
                    "local_hash": a,
                    "server_hash": b,
                    "fields": self.altered_fields.get(s, []),
                }
                for s, a, b in self.different
            ],
            "lost": self.lost,
            "acknowledged_seq": self.acknowledged_seq,
            "pruned": self.pruned,
            "erased": [
                {"seq": s, "field": f, "request": r} for (s, f), r in sorted(self.erased.items())
            ],
            "personal_data_deleted_without_request": [
                {"seq": s, "field": f} for s, f in self.unexplained
            ],
            "signed_head": self.signed_head,
            "agent_key_problem": self.agent_key_problem,
        }


def server_events(base_url: str, stream: str, token: str | None) -> Iterator[dict[str, Any]]:
    """Every event of `stream` from `GET /api/v1/events/`, following the cursor pages."""
    query = urllib.parse.urlencode({"stream": stream, "page_size": PAGE_SIZE})
    url: str | None = f"{base_url.rstrip('/')}/api/v1/events/?{query}"
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    while url:
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                page = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 404) and _names_unknown_stream(exc):
                return  # the portal holds no event of the stream: reported as missing
            raise ServerUnavailable(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ServerUnavailable(f"{url}: {exc}") from exc
        yield from page.get("results", [])
        url = page.get("next")


def server_stream(base_url: str, stream: str, token: str | None) -> dict[str, Any]:
    """The portal's detail of `stream` (`GET /api/v1/streams/<id>/`): its pruned ranges and
    its latest agent-signed head; {} when the portal holds no such stream."""
    url = f"{base_url.rstrip('/')}/api/v1/streams/{urllib.parse.quote(stream, safe='')}/"
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            detail = json.load(r)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise ServerUnavailable(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServerUnavailable(f"{url}: {exc}") from exc
    return detail if isinstance(detail, dict) else {}


def pruned_of(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The ranges the portal says retention pruned (none if it says nothing)."""
    pruned = detail.get("pruned")
    return [p for p in pruned if isinstance(p, dict)] if isinstance(pruned, list) else []


def signed_head_of(detail: dict[str, Any]) -> dict[str, Any] | None:
    """The portal's latest agent-signed head of the stream, if it holds one."""
    head = detail.get("signed_head")
    return head if isinstance(head, dict) else None


def server_personal_data(base_url: str, stream: str, token: str | None) -> dict[str, Any]:
    """`GET /api/v1/streams/<stream>/personal-data/`: the fields the portal no longer holds
    and the erasure request it cites for each; {} from a portal without the endpoint."""
    quoted = urllib.parse.quote(stream, safe="")
    url = f"{base_url.rstrip('/')}/api/v1/streams/{quoted}/personal-data/"
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            body = json.load(r)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise ServerUnavailable(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServerUnavailable(f"{url}: {exc}") from exc
    return body if isinstance(body, dict) else {}


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


def _names_unknown_stream(error: urllib.error.HTTPError) -> bool:
    """A filter refusing an unknown stream id (the stream was deleted on the server)."""
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return False
    return isinstance(body, dict) and "stream" in body


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


def _ranges(seqs: list[int]) -> str:
    parts, start = [], None
    for i, seq in enumerate(seqs):
        start = seq if start is None else start
        if i + 1 == len(seqs) or seqs[i + 1] != seq + 1:
            parts.append(str(start) if start == seq else f"{start}..{seq}")
            start = None
    shown = parts[:SHOWN]
    return ", ".join(shown) + (f" (+{len(parts) - SHOWN} more)" if len(parts) > SHOWN else "")


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


def describe(r: CrossCheck) -> str:
    """The verdict on one stream, each finding in words that say what happened."""
    if r.server == 0 and r.local:
        verdict = "MISSING on the server: the portal holds no event of this stream"
    else:
        verdict = "agrees" if r.agrees else "DIFFERS"
    lines = [f"stream {r.stream}: {verdict} (journal {r.local} events, server {r.server})"]
    for p in r.pruned:
        lines.append(
            f"  pruned {p.get('from')}..{p.get('to')} by policy {p.get('policy')} on "
            f"{p.get('date')} (the portal's signed anchor; its hash matches the journal)"
            if r.altered_fields.get(p.get("to", -1)) != ["prune anchor"]
            else f"  the portal claims seq {p.get('from')}..{p.get('to')} pruned, but its anchor "
            "does not match the journal: tampering"
        )
    if r.lost:
        lines.append(
            f"  acknowledged by the portal but gone from it (deleted or lost on the server): "
            f"seq {_ranges(r.lost)}"
        )
    if r.unshipped:
        known = (
            "" if r.acknowledged_seq is None else f" (acknowledged up to seq {r.acknowledged_seq})"
        )
        lines.append(f"  not on the server, not shipped yet{known}: seq {_ranges(r.unshipped)}")
    if r.extra:
        lines.append(f"  on the server but not in the journal: seq {_ranges(r.extra)}")
    by_request: dict[str, list[int]] = {}
    for (seq, _name), reference in sorted(r.erased.items()):
        by_request.setdefault(reference, []).append(seq)
    for reference, seqs in by_request.items():
        lines.append(
            f"  personal data erased under request {reference}: seq {_ranges(sorted(set(seqs)))}"
        )
    for seq, name in r.unexplained[:SHOWN]:
        lines.append(
            f"  seq {seq}: personal-data field '{name}' is in the journal but gone from the "
            "server, and no erasure request explains it: deleted without a request (tampering)"
        )
    if r.agent_key_problem:
        lines.append(f"  agent-signed head: {r.agent_key_problem}")
    elif r.signed_head:
        lines.append(
            f"  agent-signed head on the portal: seq {r.signed_head.get('seq')}, this journal's "
            f"key {r.signed_head.get('fingerprint')}"
        )
    for seq, mine, theirs in r.different[:SHOWN]:
        fields = ", ".join(r.altered_fields.get(seq, [])) or "none"
        if mine == theirs:
            lines.append(
                f"  seq {seq}: same hash {mine[:12]}…, but the server's content differs in "
                f"{fields}: its copy was altered and no longer matches its hash"
            )
        else:
            lines.append(
                f"  seq {seq} differs in {fields}: journal hash {mine[:12]}…, "
                f"server hash {theirs[:12]}…"
            )
    return "\n".join(lines)


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
