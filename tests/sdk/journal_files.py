"""Reading a rotated journal's files without the SDK's own reader (for the tests' checks)."""

from __future__ import annotations

from tests.independent_chain import read_journal


def all_events(path):
    """The events of every file, read independently: segments by name order, then the active."""
    segments = sorted(
        p
        for p in path.parent.iterdir()
        if p.name.startswith(path.name + ".") and p.name.rsplit(".", 1)[1].isdigit()
    )
    events = []
    for file in [*segments, path]:
        if file.exists():
            events.extend(read_journal(file))
    return events
