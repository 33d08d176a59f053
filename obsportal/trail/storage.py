"""One event appended at a stream's head in one statement: the trail's fast path.

A compare-and-set: the head moves and the row (with its sidecar) is stored only if the
head is still the one the event links to, so a stale in-process hint can never fork
the chain. Measured as the one round trip that keeps a request's recording far below
the locked read + COPY + head update of a batch (benchmarks/trail_overhead.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from django.db import connection

_COLUMNS = (
    "event_id, stream_id, seq, ts, agent_id, action, result, user_id, resource, details,"
    " trace_id, span_id, pii_commitments, prev_hash, hash, received_at"
)
_APPEND = f"""
WITH moved AS (
    UPDATE ingest_stream SET head_seq = %(seq)s, head_hash = %(hash)s, updated_at = now()
    WHERE id = %(stream)s AND head_seq = %(seq)s - 1 AND head_hash = %(prev_hash)s
    RETURNING id
), stored AS (
    INSERT INTO ingest_auditevent ({_COLUMNS})
    SELECT %(event_id)s::uuid, moved.id, %(seq)s, %(ts)s::timestamptz, %(agent_id)s,
           %(action)s, %(result)s, %(user_id)s, %(resource)s, %(details)s::jsonb,
           %(trace_id)s, %(span_id)s, %(pii_commitments)s::jsonb, %(prev_hash)s, %(hash)s, now()
    FROM moved
    RETURNING id
), sidecar AS (
    INSERT INTO ingest_personaldatum (event_id, field, value, salt)
    SELECT stored.id, s.field, s.value, s.salt
    FROM stored, unnest(%(fields)s::text[], %(values)s::jsonb[], %(salts)s::text[])
        AS s(field, value, salt)
)
SELECT count(*) FROM stored
"""


def append_at_head(event: dict[str, Any]) -> bool:
    """Store `event` if its stream's head is still at seq - 1 with its prev_hash; else False."""
    pii = event.get("pii", {})
    params = {
        **event,
        "details": orjson.dumps(event["details"]).decode(),
        "pii_commitments": orjson.dumps(event["pii_commitments"]).decode(),
        "fields": list(pii),
        "values": [orjson.dumps(entry["value"]).decode() for entry in pii.values()],
        "salts": [entry["salt"] for entry in pii.values()],
    }
    with connection.cursor() as cursor:
        cursor.execute(_APPEND, params)
        return cursor.fetchone()[0] == 1
