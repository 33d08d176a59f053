"""What a walk found in one stream, before it is stored as a StreamVerification."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from obsportal.integrity.models import StreamVerification

# Lists in a stored result stop here; the counts stay exact.
MAX_LISTED = 100


@dataclass
class StreamFindings:
    stream_id: str
    recorded_head_seq: int | None
    recorded_head_hash: str | None
    events_checked: int = 0
    verified_to: int | None = None
    # The first seq the walk checks: 0, or just after the range retention pruned.
    verified_from: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_break: dict[str, Any] | None = None
    breaks: list[dict[str, Any]] = field(default_factory=list)
    break_count: int = 0
    gaps: list[list[int]] = field(default_factory=list)
    forks: list[dict[str, Any]] = field(default_factory=list)
    pruned: list[dict[str, Any]] = field(default_factory=list)
    erased: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    # Events received but not admitted: waiting for a gap to fill, or held by a stall.
    waiting: list[dict[str, Any]] = field(default_factory=list)
    # What the latest agent-signed head says (verification.agent_heads): its status
    # (signed, legacy, unsigned, truncated, extended, rewritten, invalid, portal), seq,
    # hash and key fingerprint.
    agent_head: dict[str, Any] = field(default_factory=dict)

    def broke(self, seq: int, event_id: str | None, reason: str) -> None:
        self.break_count += 1
        entry = {"seq": seq, "event_id": event_id, "reason": reason}
        if self.first_break is None:
            self.first_break = entry
        if len(self.breaks) < MAX_LISTED:
            self.breaks.append(entry)

    def disagree(self, entry: dict[str, Any]) -> None:
        if len(self.disagreements) < MAX_LISTED:
            self.disagreements.append(entry)
        else:
            self.break_count += 1  # still counted as a problem

    def wait(self, seq: int, reason: str) -> None:
        self.waiting.append({"seq": seq, "event_id": None, "reason": reason})

    @property
    def problems(self) -> int:
        return self.break_count + len(self.gaps) + len(self.disagreements) + len(self.waiting)

    @property
    def status(self) -> str:
        if self.recorded_head_seq is None and self.events_checked == 0:
            return StreamVerification.Status.MISSING
        if self.problems and self.problems == len(self.waiting):
            return StreamVerification.Status.INCOMPLETE
        if self.problems:
            return StreamVerification.Status.BROKEN
        if self.forks:
            return StreamVerification.Status.FORKED
        return StreamVerification.Status.VERIFIED
