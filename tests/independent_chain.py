"""An independent implementation of DESIGN.md's hash rules, for checking the SDK and the portal.

Written from the spec alone with the `rfc8785` reference package and hashlib;
it shares no code with agents_sdk.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import rfc8785

ZERO = "0" * 64


def event_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k not in ("hash", "pii")}
    return hashlib.sha256(bytes.fromhex(body["prev_hash"]) + rfc8785.dumps(body)).hexdigest()


def commitment(value: Any, salt_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + rfc8785.dumps(value)).hexdigest()


def verify_chain(events: list[dict[str, Any]]) -> list[str]:
    """Problems found walking one stream's events in order; empty when the chain is whole."""
    problems = []
    prev = ZERO
    for index, event in enumerate(events):
        if event["seq"] != index:
            problems.append(f"position {index}: seq {event['seq']}")
        if event["prev_hash"] != prev:
            problems.append(f"seq {event['seq']}: prev_hash does not link")
        if event_hash(event) != event["hash"]:
            problems.append(f"seq {event['seq']}: hash does not recompute")
        for name, entry in event.get("pii", {}).items():
            if commitment(entry["value"], entry["salt"]) != event["pii_commitments"][name]:
                problems.append(f"seq {event['seq']}: pii {name} does not open its commitment")
        prev = event["hash"]
    return problems


def read_journal(path: Path) -> list[dict[str, Any]]:
    # Split on b"\n" only: str.splitlines() also splits inside values at U+0085, U+2028, ...
    lines = Path(path).read_bytes().split(b"\n")
    return [json.loads(line) for line in lines if line.strip()]
