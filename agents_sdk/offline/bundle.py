"""Read and verify an evidence bundle offline: events, chain links, checkpoints, inclusion.

Bundle format `obsportal-evidence-bundle/1` (one JSON document):

    {"format": "obsportal-evidence-bundle/1", "created_at": ..., "query": {...},
     "public_key": {"verifier_key": "<name>+<keyid>+<base64>", "pem": "..."},
     "selected": [event_id, ...],                      # the events the query matched
     "streams": [{"stream": id, "events": [envelope, ...],   # contiguous by seq
                  "checkpoint": id or null, "head": {"seq", "hash"} or null}],
     "checkpoints": [{"id": id, "note": "<signed note>",
                      "proofs": [{"stream", "seq", "hash", "index", "proof": [base64]}]}]}

A stream's events run from the neighbour before the first selected event up to
the head signed in `checkpoint`, so every selected event is chained to a head
that the portal's key signed.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from agents_sdk.audit.chain import (
    GENESIS_HASH,
    InvalidEvent,
    verify_event_hash,
    verify_personal_data,
)
from agents_sdk.offline.checkpoint import (
    CheckpointError,
    head_leaf_hash,
    parse_verifier_key,
    verify_checkpoint,
)
from agents_sdk.offline.merkle import verify_inclusion

BUNDLE_FORMAT = "obsportal-evidence-bundle/1"


class BundleUnreadable(ValueError):
    """The file is not an evidence bundle this verifier understands."""


@dataclass
class BundleReport:
    """What a bundle proves, and the located problems if it does not."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    selected: int = 0
    selected_verified: int = 0
    selected_in_checkpoint: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def say(self, line: str) -> None:
        self.lines.append(line)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        self.lines.append("PROBLEM: " + line)


def _require(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise BundleUnreadable(f"field '{name}' is missing or not a {kind.__name__}")
    return value


def verify_bundle(bundle: Any, trusted_key: str | None = None) -> BundleReport:
    """Check every event hash, link, checkpoint signature and head inclusion of a bundle."""
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise BundleUnreadable(f"not an evidence bundle (expected format {BUNDLE_FORMAT})")
    report = BundleReport()
    key_text = trusted_key or _require(_require(bundle, "public_key", dict), "verifier_key", str)
    try:
        key_name, public_key = parse_verifier_key(key_text)
    except CheckpointError as exc:
        raise BundleUnreadable(str(exc)) from exc
    fingerprint = hashlib.sha256(public_key).hexdigest()[:16]
    source = "given on the command line" if trusted_key else "carried by the bundle"
    report.say(f"key: {key_name} (Ed25519, sha256 {fingerprint}…), {source}")
    if not trusted_key:
        report.say("  note: pin the portal's key with --key to rule out a substituted key")

    checkpoints = _verified_checkpoints(bundle, key_name, public_key, report)
    selected = set(_require(bundle, "selected", list))
    report.selected = len(selected)
    seen: set[str] = set()
    for entry in _require(bundle, "streams", list):
        verified, covered = _verify_stream(entry, checkpoints, report)
        for event_id in verified & selected:
            seen.add(event_id)
            report.selected_verified += 1
            report.selected_in_checkpoint += event_id in covered
    unverified = sorted(selected - seen)
    if unverified:
        report.problem(
            f"{len(unverified)} selected event(s) missing or not verified, first {unverified[0]}"
        )
    return report


def _verified_checkpoints(
    bundle: dict[str, Any], name: str, public_key: bytes, report: BundleReport
) -> dict[Any, dict[str, tuple[int, str]]]:
    """Checkpoint id -> {stream: (seq, hash)} of heads whose inclusion proofs verified."""
    proven: dict[Any, dict[str, tuple[int, str]]] = {}
    for item in _require(bundle, "checkpoints", list):
        ident = item.get("id")
        try:
            checkpoint = verify_checkpoint(str(item.get("note", "")), name, public_key)
        except CheckpointError as exc:
            report.problem(f"checkpoint {ident}: {exc}")
            continue
        when = checkpoint.extension("timestamp") or "?"
        report.say(
            f"checkpoint {ident}: signature valid; {checkpoint.size} stream heads, "
            f"root {checkpoint.root.hex()[:16]}…, signed {when}"
        )
        heads: dict[str, tuple[int, str]] = {}
        for proof in item.get("proofs", []):
            stream, seq, head_hash = proof["stream"], proof["seq"], proof["hash"]
            try:
                path = [base64.b64decode(p, validate=True) for p in proof["proof"]]
            except (ValueError, TypeError):
                path = None
            leaf = head_leaf_hash(stream, seq, head_hash)
            if path is None or not verify_inclusion(
                proof["index"], checkpoint.size, leaf, path, checkpoint.root
            ):
                report.problem(
                    f"checkpoint {ident}: the head of stream {stream} (seq {seq}) "
                    "is not included under the signed root"
                )
                continue
            heads[stream] = (seq, head_hash)
            report.say(f"  head of stream {stream} at seq {seq} included (proof of {len(path)})")
        proven[ident] = heads
    return proven


def _verify_stream(
    entry: dict[str, Any], checkpoints: dict[Any, dict[str, tuple[int, str]]], report: BundleReport
) -> tuple[set[str], set[str]]:
    """Verify one stream's run of events; return (verified event ids, those under a signed head)."""
    stream = entry.get("stream")
    events = sorted(entry.get("events", []), key=lambda e: e.get("seq", -1))
    verified: list[dict[str, Any]] = []
    broken = False
    previous: dict[str, Any] | None = None
    erased = 0
    for event in events:
        where = f"stream {stream} seq {event.get('seq')} (event {event.get('event_id')})"
        try:
            if event.get("stream") != stream:
                raise InvalidEvent(f"belongs to stream {event.get('stream')}, not {stream}")
            verify_event_hash(event)
            verify_personal_data(event)
        except (InvalidEvent, KeyError, TypeError, ValueError) as exc:
            report.problem(f"{where}: {exc}")
            broken = True
            break
        if previous is None:
            if event["seq"] == 0 and event["prev_hash"] != GENESIS_HASH:
                report.problem(f"{where}: the first event of a stream must link to 64 zeros")
                broken = True
                break
        elif event["seq"] != previous["seq"] + 1:
            report.problem(f"{where}: seq {previous['seq'] + 1}..{event['seq'] - 1} missing")
            broken = True
            break
        elif event["prev_hash"] != previous["hash"]:
            report.problem(f"{where}: prev_hash does not link to the hash of seq {previous['seq']}")
            broken = True
            break
        erased += len(set(event["pii_commitments"]) - set(event.get("pii", {})))
        verified.append(event)
        previous = event
    if not verified:
        if not broken:
            report.problem(f"stream {stream}: the bundle holds no events for it")
        return set(), set()
    if broken:
        return {e["event_id"] for e in verified}, set()
    first, last = verified[0], verified[-1]
    report.say(
        f"stream {stream}: seq {first['seq']}..{last['seq']}: {len(verified)} event hashes "
        f"recomputed, {len(verified) - 1} links checked"
        + (
            f", {erased} personal-data field(s) without sidecar (not exported or erased)"
            if erased
            else ""
        )
    )
    ids = {e["event_id"] for e in verified}
    ident, head = entry.get("checkpoint"), entry.get("head")
    if ident is None or head is None:
        report.say(f"  stream {stream}: not yet covered by a checkpoint (chain verified only)")
        return ids, set()
    signed = checkpoints.get(ident, {}).get(stream)
    if signed is None:
        report.problem(f"stream {stream}: its head is not proven in checkpoint {ident}")
        return ids, set()
    seq, head_hash = signed
    if (last["seq"], last["hash"]) != (seq, head_hash):
        report.problem(
            f"stream {stream}: the chain ends at seq {last['seq']} ({last['hash'][:12]}…) but "
            f"checkpoint {ident} signed head seq {seq} ({head_hash[:12]}…)"
        )
        return ids, set()
    report.say(f"  stream {stream}: chained to the head signed in checkpoint {ident}")
    return ids, ids
