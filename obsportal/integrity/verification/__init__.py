"""Verification of the stored chains: `run` walks every stream and stores the findings,
`walk` checks one stream row by row, `compare` holds it against its recorded head and
the signed checkpoints."""

from obsportal.integrity.verification.findings import MAX_LISTED, StreamFindings
from obsportal.integrity.verification.run import (
    estimated_events,
    stored_stream_ids,
    verify_streams,
)
from obsportal.integrity.verification.walk import CHUNK_SIZE, stream_rows, verify_stream

__all__ = [
    "CHUNK_SIZE",
    "MAX_LISTED",
    "StreamFindings",
    "estimated_events",
    "stored_stream_ids",
    "stream_rows",
    "verify_stream",
    "verify_streams",
]
