"""Evidence bundles: the events of a query, chained to signed checkpoint heads, in one file.

The format is documented in `agents_sdk.offline.bundle`, which verifies it offline.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.utils import timezone

from agents_sdk.offline.bundle import BUNDLE_FORMAT
from obsportal.ingest.models import AuditEvent, Stream
from obsportal.ingest.selectors import as_envelope
from obsportal.ingest.services import format_ts
from obsportal.integrity.checkpoints import inclusion_proof_of
from obsportal.integrity.models import Checkpoint, CheckpointHead
from obsportal.integrity.signing import load_signing_key

# A bundle is one JSON document held in memory on both sides; larger exports are
# split by time range.
MAX_BUNDLE_EVENTS = 200_000


class BundleTooLarge(ValueError):
    """The query selects more events than one bundle may carry."""


def build_bundle(
    agent_id: str | None, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """Events of (agent, [since, until)), each stream chained up to a signed head."""
    key = load_signing_key()
    query = AuditEvent.objects.all()
    if agent_id:
        query = query.filter(agent_id=agent_id)
    if since:
        query = query.filter(ts__gte=since)
    if until:
        query = query.filter(ts__lt=until)
    selected = list(
        query.order_by("stream_id", "seq")[: MAX_BUNDLE_EVENTS + 1].values_list(
            "stream_id", "seq", "event_id"
        )
    )
    if len(selected) > MAX_BUNDLE_EVENTS:
        raise BundleTooLarge(
            f"the query selects more than {MAX_BUNDLE_EVENTS} events; narrow the time range"
        )
    seqs: dict[str, list[int]] = defaultdict(list)
    for stream_id, seq, _ in selected:
        seqs[stream_id].append(seq)

    streams, proofs = [], defaultdict(list)
    for stream_id, stream_seqs in seqs.items():
        first, last = min(stream_seqs), max(stream_seqs)
        covering = (
            CheckpointHead.objects.filter(stream_id=stream_id, seq__gte=last)
            .order_by("checkpoint_id")
            .first()
        )
        if covering is not None:
            end = covering.seq
        else:
            end = Stream.objects.filter(pk=stream_id).values_list("head_seq", flat=True).first()
            end = max(end if end is not None else last, last)
        # The neighbour before the first selected event proves its link.
        events = AuditEvent.objects.filter(
            stream_id=stream_id, seq__gte=max(first - 1, 0), seq__lte=end
        ).order_by("seq")
        streams.append(
            {
                "stream": stream_id,
                "events": [as_envelope(e) for e in events.iterator(chunk_size=2000)],
                "checkpoint": covering.checkpoint_id if covering else None,
                "head": {"seq": covering.seq, "hash": covering.hash} if covering else None,
            }
        )
        if covering:
            proofs[covering.checkpoint_id].append(
                inclusion_proof_of(covering.checkpoint, stream_id)
            )
    checkpoints = [
        {
            "id": checkpoint.pk,
            "note": checkpoint.note,
            "proofs": [
                {k: p[k] for k in ("stream", "seq", "hash", "index", "proof")}
                for p in proofs[checkpoint.pk]
            ],
        }
        for checkpoint in Checkpoint.objects.filter(pk__in=proofs.keys()).order_by("id")
    ]
    return {
        "format": BUNDLE_FORMAT,
        "created_at": format_ts(timezone.now()),
        "query": {
            "agent_id": agent_id,
            "since": format_ts(since) if since else None,
            "until": format_ts(until) if until else None,
        },
        "public_key": {"verifier_key": key.verifier_key, "pem": key.public_pem},
        "selected": [str(event_id) for _, _, event_id in selected],
        "streams": streams,
        "checkpoints": checkpoints,
    }
