"""What a bundle proves, stream by stream, and the one sentence that sums it up."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents_sdk.offline.bundle_query import Query
from agents_sdk.offline.findings import Findings


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
