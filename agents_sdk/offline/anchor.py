"""Prune anchors: the signed statement that retention removed a stream's seq first..last.

A prune anchor is a C2SP signed note by the portal's checkpoint key. Its text is one
`key value` line each, after an origin line ending in `/prune-anchor`:

    <origin>/prune-anchor
    stream <stream id>
    first <first pruned seq>
    last <last pruned seq>
    hash <hash of the last pruned event: what seq last+1 links to>
    count <events removed>
    policy <policy name>
    plan <plan id>
    run <run id>
    date <RFC 3339 UTC>
    previous <SHA-256 of the previous anchor note of this stream, or 64 zeros>

A verifier that trusts the key starts the stream at `last + 1` with `hash` as the
expected `prev_hash`; anchors of one stream must cover 0..last without a hole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from agents_sdk.offline.checkpoint import CheckpointError, open_note

ANCHOR_SUFFIX = "/prune-anchor"
GENESIS = "0" * 64
_FIELDS = ("stream", "first", "last", "hash", "count", "policy", "plan", "run", "date", "previous")


@dataclass(frozen=True)
class PruneAnchor:
    stream: str
    first: int
    last: int
    hash: str
    count: int
    policy: str
    plan: str
    run: str
    date: str
    previous: str
    note_hash: str

    def describe(self) -> str:
        return f"pruned {self.first}..{self.last} by policy {self.policy} on {self.date[:10]}"


def anchor_body(origin: str, values: dict[str, object]) -> str:
    """The note text of an anchor; every value one line."""
    lines = [origin + ANCHOR_SUFFIX]
    for name in _FIELDS:
        value = str(values[name])
        if "\n" in value or not value:
            raise CheckpointError(f"anchor field {name} must be one non-empty line")
        lines.append(f"{name} {value}")
    return "".join(line + "\n" for line in lines)


def note_digest(note: str) -> str:
    return hashlib.sha256(note.encode()).hexdigest()


def parse_anchor_text(text: str, note_hash: str = "") -> PruneAnchor:
    lines = text.split("\n")
    if lines[-1] != "" or not lines[0].endswith(ANCHOR_SUFFIX):
        raise CheckpointError("not a prune anchor note")
    values: dict[str, str] = {}
    for line in lines[1:-1]:
        name, _, value = line.partition(" ")
        values[name] = value
    missing = [name for name in _FIELDS if name not in values]
    if missing:
        raise CheckpointError(f"the prune anchor lacks {', '.join(missing)}")
    try:
        first, last, count = int(values["first"]), int(values["last"]), int(values["count"])
    except ValueError as exc:
        raise CheckpointError("a prune anchor's first, last and count are numbers") from exc
    return PruneAnchor(
        stream=values["stream"],
        first=first,
        last=last,
        hash=values["hash"],
        count=count,
        policy=values["policy"],
        plan=values["plan"],
        run=values["run"],
        date=values["date"],
        previous=values["previous"],
        note_hash=note_hash,
    )


def verify_anchor(note: str, name: str, public_key: bytes) -> PruneAnchor:
    """Check the note's signature by the portal key and parse it."""
    return parse_anchor_text(open_note(note, name, public_key), note_digest(note))


def anchor_chain_problems(stream: str, anchors: list[PruneAnchor]) -> list[str]:
    """Anchors of one stream (sorted by `last`) must cover 0..last without a hole and
    chain by `previous`; each problem reads as a sentence."""
    problems: list[str] = []
    expected_first, previous = 0, GENESIS
    for anchor in anchors:
        if anchor.stream != stream:
            problems.append(f"a prune anchor of stream {anchor.stream} is filed under {stream}")
        if anchor.first != expected_first:
            problems.append(
                f"prune anchor {anchor.first}..{anchor.last} does not continue the pruned range "
                f"(expected it to start at seq {expected_first})"
            )
        if anchor.previous != previous:
            problems.append(
                f"prune anchor {anchor.first}..{anchor.last} does not link to the anchor before "
                "it: an anchor was removed or replaced"
            )
        expected_first, previous = anchor.last + 1, anchor.note_hash
    return problems
