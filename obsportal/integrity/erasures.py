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
        AuditEvent.objects.filter(agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID, action=RECEIPT_ACTION)
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


def missing_personal_data(
    stream_id: str, first_seq: int | None = None, last_seq: int | None = None
) -> list[tuple[int, str]]:
    """(seq, field) of every committed personal-data field whose sidecar is gone."""
    from obsportal.ingest.models import PersonalDatum

    rows = AuditEvent.objects.filter(stream_id=stream_id).exclude(pii_commitments={})
    if first_seq is not None:
        rows = rows.filter(seq__gte=first_seq)
    if last_seq is not None:
        rows = rows.filter(seq__lte=last_seq)
    missing: list[tuple[int, str]] = []
    batch: list[tuple[int, int, dict]] = []

    def flush() -> None:
        present = set(
            PersonalDatum.objects.filter(event_id__in=[pk for pk, _, _ in batch]).values_list(
                "event_id", "field"
            )
        )
        for pk, seq, commitments in batch:
            missing.extend((seq, name) for name in sorted(commitments) if (pk, name) not in present)
        batch.clear()

    for pk, seq, commitments in rows.order_by("seq").values_list("pk", "seq", "pii_commitments"):
        batch.append((pk, seq, commitments))
        if len(batch) >= 1000:
            flush()
    if batch:
        flush()
    return missing


def personal_data_state(
    stream_id: str, first_seq: int | None = None, last_seq: int | None = None
) -> dict[str, Any]:
    """What a bundle and the cross-check are told about a stream's personal data: the fields
    gone, which request erased each (by a valid receipt), which no request explains, and
    the signed receipts themselves so that an offline verifier checks them."""
    missing = missing_personal_data(stream_id, first_seq, last_seq)
    erased_by = erasures_of(stream_id) if missing else {}
    erased, unexplained = [], []
    for seq, name in missing:
        receipt = erased_by.get((seq, name))
        if receipt is None:
            unexplained.append([seq, name])
        else:
            erased.append({"seq": seq, "field": name, **receipt})
    named = {e["trail_seq"] for e in erased}
    return {
        "stream": stream_id,
        "missing": [[seq, name] for seq, name in missing],
        "erased": erased,
        "unexplained": unexplained,
        "receipts": [details for seq, details in receipts() if seq in named],
    }
