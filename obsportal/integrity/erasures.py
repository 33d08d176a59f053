"""Erasure receipts as verification reads them: which missing sidecars a request explains.

The compliance app writes the receipts (signed, on the portal's trail) and verification
reads them through here, so that integrity never imports compliance. A receipt counts
only if it is a trail event whose hashed body carries a signature by the portal's key:
a superuser who deletes a sidecar in psql can add neither.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings

from agents_sdk.offline.erasure import RECEIPT_ACTION, erased_positions, receipt_verifies
from obsportal.ingest.models import AuditEvent
from obsportal.integrity.signing import SigningKeyMissing, load_signing_key


def receipts() -> list[tuple[int, dict[str, Any]]]:
    """(trail seq, details) of every erasure receipt on the trail, from the hashed bodies."""
    rows = (
        AuditEvent.objects.filter(
            agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID, action=RECEIPT_ACTION
        )
        .order_by("seq")
        .values_list("seq", "canonical")
    )
    return [(seq, orjson.loads(canonical)["details"]) for seq, canonical in rows if canonical]


def erasures_of(stream_id: str) -> dict[tuple[int, str], dict[str, Any]]:
    """(seq, field) -> {"request", "reference", "trail_seq"} of each field of `stream_id`
    that a valid receipt erased."""
    try:
        public = load_signing_key().public_bytes
    except SigningKeyMissing:
        public = None
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for trail_seq, details in receipts():
        if stream_id not in (details.get("erased") or {}):
            continue
        if public is None or not receipt_verifies(details, public):
            continue
        entry = {
            "request": details.get("request"),
            "reference": details.get("reference"),
            "trail_seq": trail_seq,
        }
        for stream, seq, name in erased_positions(details):
            if stream == stream_id:
                found.setdefault((seq, name), entry)
    return found
