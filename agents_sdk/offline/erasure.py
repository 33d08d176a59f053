"""Erasure receipts: which personal-data fields a GDPR Art. 17 request removed.

A receipt is an event of the portal's own trail (action `subject.erasure`) whose
`details` name the request, its legal ground, the counts, the exceptions, and every
erased position as `erased: {stream: [[seq, field], ...]}`, signed with the portal's
Ed25519 checkpoint key over the RFC 8785 form of the details without `signature`.
Being on the chained, checkpointed trail, a receipt cannot be inserted after the fact;
being signed, it cannot be written by whoever holds only the database. A missing
sidecar that no valid receipt names is tampering.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from agents_sdk.offline.signed_json import signature_verifies, unsigned_bytes

RECEIPT_ACTION = "subject.erasure"


def receipt_statement(details: dict[str, Any]) -> bytes:
    """The bytes a receipt's signature covers."""
    return unsigned_bytes(details)


def receipt_verifies(details: dict[str, Any], public_key: bytes) -> bool:
    """True when `details` carry a valid signature by the portal key `public_key`."""
    try:
        signature = base64.b64decode(details["signature"], validate=True)
    except (KeyError, TypeError, ValueError):
        return False
    return signature_verifies(details, signature, public_key)


def erased_positions(details: dict[str, Any]) -> Iterator[tuple[str, int, str]]:
    """(stream, seq, field) of every field a receipt says it erased."""
    erased = details.get("erased")
    if not isinstance(erased, dict):
        return
    for stream, positions in erased.items():
        for position in positions if isinstance(positions, list) else []:
            if (
                isinstance(position, list)
                and len(position) == 2
                and isinstance(position[0], int)
                and isinstance(position[1], str)
            ):
                yield stream, position[0], position[1]
