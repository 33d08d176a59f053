"""Prune anchors: the ranges of a stream that retention removed, as verification reads them.

Retention writes them (signed) and verification reads them through here, so that
integrity never imports retention. Until the retention app exists nothing is
pruned, and every missing seq is reported as a gap.
"""

from __future__ import annotations

from typing import Any


def pruned_ranges(stream_id: str) -> list[dict[str, Any]]:
    """Ranges removed by retention, as {"from", "to", "policy", "date"}."""
    return []
