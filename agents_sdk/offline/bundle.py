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
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import orjson

from agents_sdk.audit.chain import GENESIS_HASH, InvalidEvent, verify_event_hash
from agents_sdk.audit.head_signing import (
    InvalidHeadSignature,
    key_fingerprint,
    read_wire_head,
    verify_head,
)
from agents_sdk.offline.anchor import PruneAnchor, anchor_chain_problems, verify_anchor
from agents_sdk.offline.checkpoint import (
    Checkpoint,
    CheckpointError,
    head_leaf_hash,
    parse_verifier_key,
    verify_checkpoint,
)
from agents_sdk.offline.erasure import erased_positions, receipt_verifies
from agents_sdk.offline.findings import Findings
from agents_sdk.offline.merkle import verify_inclusion

BUNDLE_FORMAT = "obsportal-evidence-bundle/2"


class BundleUnreadable(ValueError):
    """The file is not an evidence bundle this verifier understands."""


def parse_time(text: Any, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise BundleUnreadable(f"{what} {text!r} is not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise BundleUnreadable(f"{what} {text!r} has no UTC offset")
    return value


@dataclass
class Query:
    agent_id: str
    since: datetime | None
    until: datetime | None
    text: dict[str, Any]

    def selects(self, event: dict[str, Any]) -> bool:
        if event.get("agent_id") != self.agent_id:
            return False
        ts = parse_time(event.get("ts"), "ts")
        return (self.since is None or ts >= self.since) and (self.until is None or ts < self.until)  # type: ignore[operator]

    def describe(self) -> str:
        since, until = self.text.get("since"), self.text.get("until")
        if since and until:
            span = f"with {since} <= ts < {until}"
        elif since:
            span = f"with ts >= {since}"
        elif until:
            span = f"with ts < {until}"
        else:
            span = "of all time"
        return f"agent {self.agent_id} {span}"


@dataclass
class BundleReport(Findings):
    """What a bundle proves, and the located problems if it does not."""

    query: Query | None = None
    key: str = ""
    pinned: bool = False
    streams: int = 0
    events: int = 0
    selected: int = 0
    checkpoints_used: dict[int, str] = field(default_factory=dict)
    portal_key: tuple[str, bytes] = ("", b"")
    pruned: list[str] = field(default_factory=list)
    # (stream, seq, field) -> the reference of the request that erased it
    erased: dict[tuple[str, int, str], str] = field(default_factory=dict)
    agent_keys: list[bytes] = field(default_factory=list)
    require_agent_signature: bool = False
    trail_agent: str = ""
    # Fingerprints of the agent keys whose signed heads verified; streams with none.
    agent_signed: set[str] = field(default_factory=set)
    agent_unsigned: list[str] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return self.pinned

    def verdict(self) -> str:
        """One sentence a compliance officer can paste into a report."""
        if self.problems:
            return f"FAILED: {len(self.problems)} problem(s); first: {self.problems[0]}"
        if not self.pinned:
            return (
                "NOT VERIFIED: the portal's key is not pinned (give --key, --trust-file or "
                "$AGENTS_SDK_PORTAL_KEY), and a bundle checked only against the key it carries "
                "proves nothing."
            )
        used = sorted(self.checkpoints_used)
        where = ", ".join(f"{n} ({self.checkpoints_used[n]})" for n in used)
        plural = "s" if len(used) > 1 else ""
        pruned = (
            f" Retention removed the oldest events: {'; '.join(self.pruned)}."
            if self.pruned
            else ""
        )
        requests = sorted(set(self.erased.values()))
        erased = (
            f" {len(self.erased)} personal-data field(s) erased under request(s) "
            f"{', '.join(requests)}, each by a receipt signed with the same key."
            if requests
            else ""
        )
        agent = ""
        if self.agent_signed:
            pinned = "pinned " if self.agent_keys else ""
            keys = ", ".join(sorted(self.agent_signed))
            agent = f", and signed by the agent itself with its {pinned}key {keys}"
        if self.agent_unsigned:
            agent += (
                f"; {len(self.agent_unsigned)} stream(s) carry no agent-signed head (journals "
                "that predate agent keys), so only the portal vouches for them"
            )
        return (
            f"VERIFIED: all {self.selected} events of {self.query.describe()} that the portal "  # type: ignore[union-attr]
            f"held, in {self.streams} stream(s), are in this bundle, complete and unaltered, "
            f"each stream chained to a head signed with the pinned portal key {self.key} in "
            f"checkpoint{plural} {where}{agent}.{pruned}{erased}"
        )


def _fingerprint(name: str, public: bytes) -> str:
    return f"{name} (Ed25519, sha256 {hashlib.sha256(public).hexdigest()[:16]}…)"


def _loads(line: bytes, where: str) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BundleUnreadable(f"{where} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BundleUnreadable(f"{where} is not a JSON object")
    return value


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
    header = _loads(first, "line 1")
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
    stream: _StreamCheck | None = None
    for number, line in numbered:
        if not line.strip():
            continue
        item = _loads(line, f"line {number}")
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
            stream = _StreamCheck(item, query, checkpoints, report)
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


class _Broken(Exception):
    """A stream's verification stopped at its first problem."""


class _StreamCheck:
    """One stream's run of events, verified as it streams past."""

    def __init__(
        self,
        header: dict[str, Any],
        query: Query,
        checkpoints: dict[int, Checkpoint],
        report: BundleReport,
    ) -> None:
        self.header, self.query, self.checkpoints, self.report = header, query, checkpoints, report
        self.stream = header.get("stream")
        self.first: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        # The hashes at the seqs the heads name, noted as the events stream past.
        self.hash_at: dict[int, str] = {}
        head, agent = header.get("head"), header.get("agent_head")
        self.marks = {h.get("seq") for h in (head, agent) if isinstance(h, dict) and "seq" in h}
        self.broken = False
        self.count = self.selected = 0
        report.streams += 1

    def fail(self, reason: str) -> NoReturn:
        """Record the stream's first problem; the rest of its events are only counted."""
        self.report.problem(reason)
        self.broken = True
        raise _Broken

    def add(self, event: dict[str, Any]) -> None:
        self.report.events += 1
        self.count += 1
        if not self.broken:
            with contextlib.suppress(_Broken):
                self._add(event)

    def _add(self, event: dict[str, Any]) -> None:
        where = f"stream {self.stream} seq {event.get('seq')} (event {event.get('event_id')})"
        try:
            if event.get("stream") != self.stream:
                raise InvalidEvent(f"belongs to stream {event.get('stream')}, not {self.stream}")
            verify_event_hash(event)
            selected = self.query.selects(event)
        except (InvalidEvent, BundleUnreadable, KeyError, TypeError, ValueError) as exc:
            self.fail(f"{where}: {exc}")
        previous = self.last
        if previous is None:
            if event["seq"] == 0 and event["prev_hash"] != GENESIS_HASH:
                self.fail(f"{where}: the first event of a stream must link to 64 zeros")
            self.first = event
        elif event["seq"] != previous["seq"] + 1:
            low, high = previous["seq"] + 1, event["seq"] - 1
            missing = f"seq {low}" if low == high else f"seq {low}..{high}"
            self.fail(f"{where}: {missing} missing before it")
        elif event["prev_hash"] != previous["hash"]:
            self.fail(f"{where}: prev_hash does not link to the hash of seq {previous['seq']}")
        self.last = event
        if event["seq"] in self.marks:
            self.hash_at[event["seq"]] = event["hash"]
        self.selected += selected
        self.report.selected += selected

    def finish(self) -> None:
        if not self.broken:
            with contextlib.suppress(_Broken):
                self._finish()

    def _finish(self) -> None:
        first, last, stream = self.first, self.last, self.stream
        if first is None or last is None:
            self.fail(f"stream {stream}: the bundle holds no events for it")
        pruned = self._pruned_before(first) if first["seq"] > 0 else None
        if pruned is not None:
            self.report.pruned.append(f"stream {stream}: {pruned}")
            self.report.say(f"  stream {stream}: {pruned}, by prune anchors signed with the key")
        elif first["seq"] > 0 and self.query.selects(first):
            self.fail(
                f"stream {stream}: the bundle starts at seq {first['seq']} (event "
                f"{first['event_id']}), which the query selects: the event before it is not in "
                "the bundle, so the selection is not proven complete at its start"
            )
        if self.header.get("selected") != self.selected:
            self.fail(
                f"stream {stream}: the bundle says {self.header.get('selected')} of its events "
                f"are selected; the query selects {self.selected}"
            )
        self._check_head(last)
        self.report.say(
            f"stream {stream}: seq {first['seq']}..{last['seq']}: {self.count} event hashes "
            f"recomputed, {self.count - 1} links checked, {self.selected} selected"
        )

    def _pruned_before(self, first: dict[str, Any]) -> str | None:
        """Retention's account of seq 0..first-1, when the bundle carries its anchors."""
        notes, stream = self.header.get("anchors"), self.stream
        if not notes:
            return None
        anchors: list[PruneAnchor] = []
        name, public = self.report.portal_key
        for note in notes:
            try:
                anchors.append(verify_anchor(str(note), name, public))
            except CheckpointError as exc:
                self.fail(f"stream {stream}: a prune anchor does not verify: {exc}")
        anchors.sort(key=lambda a: a.last)
        problems = anchor_chain_problems(str(stream), anchors)
        if problems:
            self.fail(f"stream {stream}: {problems[0]}")
        last = anchors[-1]
        if last.last + 1 != first["seq"] or last.hash != first["prev_hash"]:
            self.fail(
                f"stream {stream}: the bundle starts at seq {first['seq']}, but its prune "
                f"anchors end at seq {last.last} with hash {last.hash[:12]}…: the event the "
                "bundle starts with does not follow the pruned range"
            )
        policies = sorted({a.policy for a in anchors})
        dates = sorted({a.date[:10] for a in anchors})
        return f"pruned 0..{last.last} by policy {', '.join(policies)} on {', '.join(dates)}"

    def _check_head(self, last: dict[str, Any]) -> None:
        head, stream = self.header.get("head"), self.stream
        if not isinstance(head, dict):
            self.fail(
                f"stream {stream}: no signed checkpoint covers it up to seq {last['seq']}, so its "
                "end is not proven"
            )
        number = head.get("checkpoint")
        checkpoint = self.checkpoints.get(number)  # type: ignore[arg-type]
        if checkpoint is None:
            self.fail(
                f"stream {stream}: its head cites checkpoint {number}, which "
                "does not verify or is not in the bundle"
            )
        try:
            path = [base64.b64decode(p, validate=True) for p in head["proof"]]
            leaf = head_leaf_hash(stream, head["seq"], head["hash"])  # type: ignore[arg-type]
            included = verify_inclusion(head["index"], checkpoint.size, leaf, path, checkpoint.root)
        except (KeyError, TypeError, ValueError):
            included = False
        if not included:
            self.fail(
                f"stream {stream}: its head (seq {head.get('seq')}) is not included under the "
                f"root signed in checkpoint {number}"
            )
        agent_seq = self._check_agent_head(last)
        end = max(head["seq"], agent_seq if agent_seq is not None else -1)
        if self.hash_at.get(head["seq"]) != head["hash"] or last["seq"] != end:
            at = self.hash_at.get(head["seq"])
            self.fail(
                f"stream {stream}: the chain ends at seq {last['seq']} ({last['hash'][:12]}…) "
                f"and holds {at[:12] + '…' if at else 'no event'} at seq {head['seq']}, but "
                f"checkpoint {number} signed its head at seq {head['seq']} ({head['hash'][:12]}…)"
            )
        self.report.checkpoints_used[number] = checkpoint.extension("timestamp") or "?"  # type: ignore[index]
        self.report.say(f"  stream {stream}: chained to its head signed in checkpoint {number}")

    def _check_agent_head(self, last: dict[str, Any]) -> int | None:
        """The seq of the agent-signed head, checked; None for a stream without one."""
        stream, report, raw = self.stream, self.report, self.header.get("agent_head")
        agent_id = self.query.agent_id
        if raw is None:
            if agent_id == report.trail_agent:
                report.say(f"  stream {stream}: the portal's own trail (no agent key)")
                return None
            if report.require_agent_signature or report.agent_keys:
                self.fail(
                    f"stream {stream}: no agent-signed head, and one is required: no agent "
                    "signed this stream (a journal that predates agent keys, or a stream the "
                    "portal made up)"
                )
            report.agent_unsigned.append(str(stream))
            report.say(
                f"  stream {stream}: no agent-signed head (a journal that predates agent keys): "
                "vouched for by the portal only"
            )
            return None
        try:
            head = read_wire_head(raw)
            if head.stream != stream:
                raise InvalidHeadSignature(f"it is the head of stream {head.stream}")
            pinned = report.agent_keys
            if pinned and head.public_key not in pinned:
                raise InvalidHeadSignature(
                    f"it is signed with key {key_fingerprint(head.public_key)}, not a pinned "
                    f"agent key ({', '.join(key_fingerprint(k) for k in pinned)}): substituted"
                )
            verify_head(head, agent_id)
        except InvalidHeadSignature as exc:
            self.fail(f"stream {stream}: its agent-signed head does not verify: {exc}")
        fingerprint = key_fingerprint(head.public_key)
        if head.seq > last["seq"]:
            self.fail(
                f"stream {stream}: its agent signed its head at seq {head.seq} with key "
                f"{fingerprint}, but the bundle's chain ends at seq {last['seq']}: seq "
                f"{last['seq'] + 1}..{head.seq} are missing (the stream was truncated)"
            )
        if self.hash_at.get(head.seq) != head.hash:
            self.fail(
                f"stream {stream}: the event at seq {head.seq} is not the one its agent signed "
                f"(signed {head.hash[:12]}…, key {fingerprint}): the stream was rewritten"
            )
        if last["seq"] > head.seq:
            self.fail(
                f"stream {stream}: events seq {head.seq + 1}..{last['seq']} follow the head its "
                f"agent signed (seq {head.seq}, key {fingerprint}): no agent signature covers them"
            )
        report.agent_signed.add(fingerprint)
        report.say(
            f"  stream {stream}: signed by its agent up to seq {head.seq}, key {fingerprint}"
        )
        return head.seq
