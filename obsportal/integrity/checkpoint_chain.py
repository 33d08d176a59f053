"""Checkpoints form a chain: each signs its number and the SHA-256 of its predecessor's note.

Three places remember the chain, so that removing it from one shows: the checkpoint
table, the copies in OBSPORTAL_CHECKPOINT_DIR, and the witness file (the number and
note hash of the last checkpoint signed, beside the key by default). Signing takes
the highest predecessor any of them knows and records an incident when another lags
behind; verification walks the chain and reports missing, altered and reordered
checkpoints and gaps in the schedule longer than two intervals.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings

from agents_sdk.offline.checkpoint import CheckpointError, parse_checkpoint, split_note
from obsportal.ingest.envelope import parse_ts
from obsportal.integrity.models import Checkpoint, CheckpointIncident

GENESIS = "0" * 64


def note_hash(note: str) -> str:
    """The link to a checkpoint: hex SHA-256 of its signed note's UTF-8 bytes."""
    return hashlib.sha256(note.encode()).hexdigest()


def chain_extensions(number: int, previous: str) -> list[str]:
    return [f"number {number}", f"previous {previous}"]


@dataclass(frozen=True)
class Link:
    """Where a checkpoint stands in the chain, as its signed note says."""

    number: int
    previous: str
    issued_at: datetime | None
    hash: str


def link_of(note: str) -> Link:
    """The chain position signed inside a note (no signature check: the caller did it)."""
    text, _ = split_note(note)
    checkpoint = parse_checkpoint(text)
    number, previous = checkpoint.extension("number"), checkpoint.extension("previous")
    if number is None or not number.isdigit() or previous is None:
        raise CheckpointError("the note does not carry its number and predecessor")
    stamp = checkpoint.extension("timestamp")
    return Link(int(number), previous, parse_ts(stamp) if stamp else None, note_hash(note))


def witness_path() -> Path:
    configured = settings.OBSPORTAL_CHECKPOINT_WITNESS_FILE
    if configured:
        return Path(configured)
    return Path(settings.OBSPORTAL_SIGNING_KEY_FILE).with_name("checkpoint-chain.last")


def read_witness() -> tuple[int, str] | None:
    try:
        number, digest = witness_path().read_text(encoding="utf-8").split()
        return int(number), digest
    except (OSError, ValueError):
        return None


def write_witness(number: int, digest: str) -> None:
    path = witness_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{number} {digest}\n", encoding="utf-8")
    os.replace(temporary, path)


def newest_copy() -> tuple[int, str] | None:
    """(number, note hash) of the highest-numbered readable copy outside PostgreSQL."""
    directory = Path(settings.OBSPORTAL_CHECKPOINT_DIR)
    for path in sorted(directory.glob("checkpoint-*.json"), reverse=True):
        try:
            note = json.loads(path.read_text(encoding="utf-8"))["note"]
            link = link_of(note)
        except (OSError, ValueError, KeyError, TypeError, CheckpointError):
            continue
        return link.number, link.hash
    return None


@dataclass(frozen=True)
class Predecessor:
    number: int
    hash: str
    incidents: list[tuple[str, str]]  # (kind, reason)


def predecessor() -> Predecessor:
    """The checkpoint the next one follows, from the table, the copies and the witness.

    Called under the signing lock. Whatever source lags behind the highest number
    known (rows deleted, copies moved away) becomes an incident of the new checkpoint.
    """
    stored = Checkpoint.objects.order_by("-number").values_list("number", "note").first()
    sources = {
        "the checkpoint table": (stored[0], note_hash(stored[1])) if stored else None,
        "the copies outside PostgreSQL": newest_copy(),
        "the witness file": read_witness(),
    }
    known = [value for value in sources.values() if value]
    if not known:
        return Predecessor(0, GENESIS, [])
    number, digest = max(known)
    incidents = []
    for place, value in sources.items():
        if value is None or value[0] < number:
            last = f"ends at checkpoint {value[0]}" if value else "holds no checkpoint"
            incidents.append(
                (
                    CheckpointIncident.Kind.PREDECESSOR_MISSING,
                    f"checkpoint {number + 1}: its predecessor {number} is missing from "
                    f"{place}, which {last}: checkpoints were removed",
                )
            )
        elif value[1] != digest:
            incidents.append(
                (
                    CheckpointIncident.Kind.PREDECESSOR_DIFFERS,
                    f"checkpoint {number + 1}: its predecessor {number} differs in {place} "
                    f"(note hash {value[1][:12]}…, elsewhere {digest[:12]}…)",
                )
            )
    return Predecessor(number, digest, incidents)


def chain_problems(now: datetime) -> list[str]:
    """Walk the checkpoint table in number order; say what breaks the chain, by number."""
    # No interval: no schedule is kept (the embedded demo), so a pause is not a finding.
    seconds = settings.OBSPORTAL_CHECKPOINT_INTERVAL
    interval = timedelta(seconds=seconds) if seconds is not None else None
    problems: list[str] = []
    previous: Link | None = None
    rows = Checkpoint.objects.order_by("number").values_list("number", "note", "previous_hash")
    for number, note, previous_column in rows.iterator(chunk_size=2000):
        try:
            link = link_of(note)
        except CheckpointError as exc:
            problems.append(f"checkpoint {number}: {exc}")
            previous = None
            continue
        if link.number != number:
            problems.append(
                f"checkpoint {number}: its note is signed as checkpoint {link.number}: "
                "the checkpoint table was altered"
            )
        if previous_column != link.previous:
            problems.append(f"checkpoint {number}: the stored predecessor hash was altered")
        expected = previous.number + 1 if previous else 1
        if link.number > expected:
            missing = (
                f"checkpoint {expected}"
                if link.number == expected + 1
                else f"checkpoints {expected}..{link.number - 1}"
            )
            problems.append(
                f"{missing} missing from the database (checkpoint {link.number} follows "
                f"{previous.number if previous else 'nothing'})"
            )
        elif previous and link.previous != previous.hash:
            problems.append(
                f"checkpoint {link.number} does not link to checkpoint {previous.number}: "
                f"{previous.number} was altered or replaced"
            )
        if previous and previous.issued_at and link.issued_at:
            if link.issued_at <= previous.issued_at:
                problems.append(
                    f"checkpoint {link.number} is signed no later than checkpoint "
                    f"{previous.number}: checkpoints were reordered"
                )
            elif interval is not None and link.issued_at - previous.issued_at > 2 * interval:
                problems.append(_gap(previous, link.issued_at, interval, f"before {link.number}"))
        previous = link
    if interval and previous and previous.issued_at and now - previous.issued_at > 2 * interval:
        problems.append(_gap(previous, now, interval, "since then"))
    return problems


def _gap(after: Link, until: datetime, interval: timedelta, where: str) -> str:
    minutes = (until - after.issued_at).total_seconds() / 60
    return (
        f"checkpoint {after.number}: no checkpoint was signed {where} for {minutes:.0f} min "
        f"(the schedule is every {interval.total_seconds() / 60:g} min)"
    )


def incident_problems() -> list[str]:
    """Incidents recorded while signing stay findings of every later verification."""
    return [
        f"{incident.reason} (recorded {incident.detected_at:%Y-%m-%d %H:%M:%S} UTC)"
        for incident in CheckpointIncident.objects.order_by("id")[:100]
    ]
