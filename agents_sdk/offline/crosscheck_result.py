"""What a cross-check found for one stream, and how each finding reads in words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SHOWN = 20


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


def _ranges(seqs: list[int]) -> str:
    parts, start = [], None
    for i, seq in enumerate(seqs):
        start = seq if start is None else start
        if i + 1 == len(seqs) or seqs[i + 1] != seq + 1:
            parts.append(str(start) if start == seq else f"{start}..{seq}")
            start = None
    shown = parts[:SHOWN]
    return ", ".join(shown) + (f" (+{len(parts) - SHOWN} more)" if len(parts) > SHOWN else "")
