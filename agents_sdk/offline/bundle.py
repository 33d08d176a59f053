"""Verify an evidence bundle offline: pinned key, chained checkpoints, complete selection.

Bundle format `obsportal-evidence-bundle/2`: UTF-8 JSON Lines, read one line at a
time (a bundle of a million events needs no more memory than one of ten).

    {"type": "bundle", "format": "obsportal-evidence-bundle/2", "created_at": ts,
     "query": {"agent_id": id, "since": ts or null, "until": ts or null},
     "portal_key": {"verifier_key": "<name>+<keyid>+<base64>", "pem": "..."},
     "checkpoints": [{"number": n, "note": "<C2SP signed note>"}],
     "streams": n, "selected": n}
    then per stream:
    {"type": "stream", "stream": id, "agent_id": id, "first_seq": a, "last_seq": b,
     "selected": n, "head": {"checkpoint": n, "seq": c, "hash": h, "index": i,
                              "proof": [base64, ...]},
     "agent_head": {"v": 1, "stream": id, "seq": s, "hash": h, "key": base64,
                    "sig": base64} or null,
     "anchors": ["<prune anchor signed note>", ...]}     (only for a pruned stream)
    {envelope v1 of seq a} ... {envelope v1 of seq b}      (no personal-data sidecars)
    {"type": "personal_data", "stream": id, "missing": [[seq, field], ...],
     "receipts": [{erasure receipt details, signed}, ...]}    (only if a field is gone)
    and last:
    {"type": "end", "streams": n, "events": n}

Personal data the portal no longer holds must be explained by an erasure receipt
signed with the pinned portal key (`agents_sdk.offline.erasure`): such a field reads
"erased under request R"; any other missing field is tampering, located (stream, seq, field).

What the verifier proves, per stream, without trusting any count or list in the file:

- every event's hash recomputes and links to the one before (seq a..b, no gap);
- the selection is re-derived from the stated query (`agent_id`, since <= ts < until);
- it is complete at the start: seq a is 0, or event a lies before `since`, or the
  stream's seq 0..a-1 were pruned by retention: its prune anchors (signed notes of
  `agents_sdk.offline.anchor`, by the pinned key) cover 0..a-1 without a hole and the
  last one kept the hash event a links to ("pruned 0..a-1 by policy P on D");
- it is complete at the end and authentic: event c is the stream head that the
  pinned portal key signed in checkpoint n (an RFC 6962 inclusion proof per head,
  so a damaged leaf of another stream cannot fail this one);
- its agent signed it: event s is the head its agent signed with its own key
  (format `obsportal/stream-head/v1`, `agents_sdk.audit.head_signing`), and b is
  the later of c and s, so no event of the bundle lies past what the agent signed,
  and a tail cut below the signed head is found. The agent key is the one the
  bundle carries unless pinned (`--agent-key`); a stream without an agent-signed
  head (a journal that predates agent keys) is named as vouched for by the portal
  only, and refused with `--require-agent-signature` or a pinned agent key. The portal's own trail
  (`trail_agent`) has no agent key.

Completeness assumes a stream's `ts` never decreases (the SDK's clock guarantees it).

This module reads the header and the closing counts; `bundle_format` reads lines and times,
`bundle_query` re-derives the selection, `bundle_stream` checks each stream, `bundle_report`
holds the findings and the verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from agents_sdk.offline.bundle_format import (
    BUNDLE_FORMAT,
    BundleUnreadable,
    parse_time,
    read_object,
)
from agents_sdk.offline.bundle_query import Query
from agents_sdk.offline.bundle_report import BundleReport
from agents_sdk.offline.bundle_stream import StreamCheck
from agents_sdk.offline.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_verifier_key,
    verify_checkpoint,
)
from agents_sdk.offline.erasure import erased_positions, receipt_verifies

# The names this module has always offered, wherever they now live.
__all__ = [
    "BUNDLE_FORMAT",
    "BundleReport",
    "BundleUnreadable",
    "Query",
    "parse_time",
    "verify_bundle",
]


def _fingerprint(name: str, public: bytes) -> str:
    return f"{name} (Ed25519, sha256 {hashlib.sha256(public).hexdigest()[:16]}…)"


def verify_bundle(
    lines: Iterable[bytes],
    pinned_keys: list[str] | None = None,
    *,
    agent_keys: list[bytes] | None = None,
    require_agent_signature: bool = False,
) -> BundleReport:
    """Check a bundle's lines; `pinned_keys` are the verifier keys the caller trusts,
    `agent_keys` the raw Ed25519 public keys of the agent it trusts (else the carried one)."""
    report = BundleReport()
    report.agent_keys = list(agent_keys or [])
    report.require_agent_signature = require_agent_signature
    numbered = enumerate(lines, start=1)
    try:
        _, first = next(numbered)
    except StopIteration:
        raise BundleUnreadable("the file is empty") from None
    header = read_object(first, "line 1")
    if header.get("type") != "bundle" or header.get("format") != BUNDLE_FORMAT:
        raise BundleUnreadable(f"not an evidence bundle (expected format {BUNDLE_FORMAT})")
    query = _query(header.get("query"), report)
    report.query = query
    report.trail_agent = str(header.get("trail_agent") or "")
    name, public = _portal_key(header, pinned_keys or [], report)
    report_public = public
    checkpoints = _checkpoints(header.get("checkpoints"), name, public, report)
    report.portal_key = (name, public)
    end: dict[str, Any] | None = None
    stream: StreamCheck | None = None
    for number, line in numbered:
        if not line.strip():
            continue
        item = read_object(line, f"line {number}")
        kind = item.get("type")
        if kind is None:
            if stream is None:
                raise BundleUnreadable(f"line {number}: an event before any stream line")
            stream.add(item)
            continue
        if kind == "personal_data":
            _personal_data(item, report_public, report)
            continue
        if stream is not None:
            stream.finish()
            stream = None
        if kind == "stream":
            stream = StreamCheck(item, query, checkpoints, report)
        elif kind == "end":
            end = item
            break
        else:
            raise BundleUnreadable(f"line {number}: unknown line type {kind!r}")
    if stream is not None:
        stream.finish()
    _totals(header, end, report)
    return report


def _query(raw: Any, report: BundleReport) -> Query:
    if not isinstance(raw, dict) or not isinstance(raw.get("agent_id"), str):
        raise BundleUnreadable("the bundle states no query with an agent_id")
    since, until = parse_time(raw.get("since"), "since"), parse_time(raw.get("until"), "until")
    if since and until and since >= until:
        report.problem(f"refused: the stated range is reversed or empty ({since} >= {until})")
    report.say(
        f"query: events of agent {raw['agent_id']}, since {raw.get('since')}, until "
        f"{raw.get('until')}"
    )
    return Query(raw["agent_id"], since, until, raw)


def _portal_key(
    header: dict[str, Any], pinned_keys: list[str], report: BundleReport
) -> tuple[str, bytes]:
    carried_text = (header.get("portal_key") or {}).get("verifier_key")
    if not isinstance(carried_text, str):
        raise BundleUnreadable("the bundle carries no portal_key.verifier_key")
    try:
        carried = parse_verifier_key(carried_text)
        pinned = [parse_verifier_key(text) for text in pinned_keys]
    except CheckpointError as exc:
        raise BundleUnreadable(str(exc)) from exc
    if not pinned:
        report.say(f"key: {_fingerprint(*carried)}, carried by the bundle: NOT PINNED")
        report.key = carried[0]
        return carried
    report.pinned = True
    if carried in pinned:
        report.say(f"key: {_fingerprint(*carried)}, pinned")
        report.key = _fingerprint(*carried)
        return carried
    report.problem(
        f"the bundle carries the key {_fingerprint(*carried)}, which is not a pinned key "
        f"({', '.join(_fingerprint(*k) for k in pinned)}): the key was substituted"
    )
    report.key = _fingerprint(*pinned[0])
    return pinned[0]


def _checkpoints(raw: Any, name: str, public: bytes, report: BundleReport) -> dict[int, Checkpoint]:
    if not isinstance(raw, list):
        raise BundleUnreadable("the bundle's checkpoints are not a list")
    verified: dict[int, Checkpoint] = {}
    for item in raw:
        number = item.get("number") if isinstance(item, dict) else None
        try:
            checkpoint = verify_checkpoint(str(item.get("note", "")), name, public)
            if checkpoint.extension("number") != str(number):
                raise CheckpointError(
                    f"its note is signed as checkpoint {checkpoint.extension('number')}"
                )
        except (CheckpointError, AttributeError) as exc:
            report.problem(f"checkpoint {number}: {exc}")
            continue
        verified[number] = checkpoint  # type: ignore[index]
        report.say(
            f"checkpoint {number}: signature valid; {checkpoint.size} stream heads, signed "
            f"{checkpoint.extension('timestamp') or '?'}"
        )
    return verified


def _personal_data(item: dict[str, Any], public: bytes, report: BundleReport) -> None:
    """Every field the portal no longer holds needs a receipt signed with the portal key."""
    stream = item.get("stream")
    explained: dict[tuple[int, str], str] = {}
    for details in item.get("receipts") or []:
        if not isinstance(details, dict) or not receipt_verifies(details, public):
            named = details.get("reference") if isinstance(details, dict) else "?"
            report.problem(
                f"stream {stream}: an erasure receipt ({named}) does not verify with the portal key"
            )
            continue
        for where, seq, name in erased_positions(details):
            if where == stream:
                explained.setdefault((seq, name), str(details.get("reference")))
    by_request: dict[str, int] = {}
    for position in item.get("missing") or []:
        seq, name = position[0], position[1]
        reference = explained.get((seq, name))
        if reference is None:
            report.problem(
                f"stream {stream} seq {seq}: personal-data field '{name}' is gone and no signed "
                "erasure receipt names it: deleted without a request (tampering)"
            )
            continue
        report.erased[(str(stream), seq, name)] = reference
        by_request[reference] = by_request.get(reference, 0) + 1
    for reference, count in sorted(by_request.items()):
        report.say(
            f"  stream {stream}: {count} personal-data field(s) erased under request {reference}"
        )


def _totals(header: dict[str, Any], end: dict[str, Any] | None, report: BundleReport) -> None:
    if end is None:
        report.problem("the bundle is cut short: its end line is missing")
    elif (end.get("streams"), end.get("events")) != (report.streams, report.events):
        report.problem(
            f"the end line counts {end.get('streams')} streams and {end.get('events')} "
            f"events; the bundle holds {report.streams} and {report.events}"
        )
    if header.get("selected") != report.selected:
        report.problem(
            f"the bundle says it selects {header.get('selected')} events; its query selects "
            f"{report.selected} of the events it holds"
        )
    if report.selected == 0:
        report.problem("refused: the query selects no event, so the bundle proves nothing")
