"""One stream of an evidence bundle, verified as its events stream past.

Its links (seq a..b, no gap), its start (seq 0, before the query, or pruned by signed
anchors), its end (the head in a signed checkpoint) and its agent's own signed head;
`agents_sdk.offline.bundle` describes what each proves.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any, NoReturn

from agents_sdk.audit.chain import GENESIS_HASH, InvalidEvent, verify_event_hash
from agents_sdk.audit.head_signing import (
    InvalidHeadSignature,
    key_fingerprint,
    read_wire_head,
    verify_head,
)
from agents_sdk.offline.anchor import PruneAnchor, anchor_chain_problems, verify_anchor
from agents_sdk.offline.bundle_format import BundleUnreadable
from agents_sdk.offline.bundle_query import Query
from agents_sdk.offline.bundle_report import BundleReport
from agents_sdk.offline.checkpoint import Checkpoint, CheckpointError, head_leaf_hash
from agents_sdk.offline.merkle import verify_inclusion


class _Broken(Exception):
    """A stream's verification stopped at its first problem."""


class StreamCheck:
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
