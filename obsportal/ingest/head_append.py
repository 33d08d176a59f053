"""One event stored at its stream's head in one round trip: the portal's own trail's path.

A batch goes through `storage` (locked heads, COPY); a single event appended by the portal
itself takes this compare-and-set instead, which moves the head, stores the row, its
sidecars only if the head is still the one the event links to.
"""

from __future__ import annotations

import weakref
from typing import Any

import orjson
from django.db import connection

from agents_sdk.audit.chain import canonical_body
from obsportal.ingest.envelope import (
    COPY_COLUMNS,
)
from obsportal.ingest.subjects import event_keys

# A compare-and-set: the head moves and the row (with its sidecar) is stored only if the
# head is still the one the event links to, so a stale in-process hint can never fork
# the chain. Measured as the one round trip that keeps a request's recording far below
# the locked read + COPY + head update of a batch (benchmarks/trail_overhead.py).
APPEND_AT_HEAD = f"""
WITH moved AS (
    UPDATE ingest_stream SET head_seq = %(seq)s, head_hash = %(hash)s, updated_at = now()
    WHERE id = %(stream)s AND head_seq = %(seq)s - 1 AND head_hash = %(prev_hash)s
    RETURNING id
), stored AS (
    INSERT INTO ingest_auditevent ({", ".join(COPY_COLUMNS)})
    SELECT %(event_id)s::uuid, moved.id, %(seq)s, %(ts)s::timestamptz, %(agent_id)s,
           %(action)s, %(result)s, %(user_id)s, %(resource)s, %(details)s::jsonb,
           %(trace_id)s, %(span_id)s, %(pii_commitments)s::jsonb, %(prev_hash)s, %(hash)s,
           %(canonical)s, now(), %(subject_key)s
    FROM moved
    RETURNING id
), sidecar AS (
    INSERT INTO ingest_personaldatum (event_id, field, value, salt, subject_key)
    SELECT stored.id, s.field, s.value, s.salt, s.subject_key
    FROM stored, unnest(%(fields)s::text[], %(values)s::jsonb[], %(salts)s::text[],
                        %(sidecar_keys)s::text[])
        AS s(field, value, salt, subject_key)
)
SELECT count(*) FROM stored
"""


def append_at_head(
    event: dict[str, Any], statement: str | None = None, *, prepared: bool = False
) -> bool:
    """Store `event` if its stream's head is still at seq - 1 with its prev_hash; else False.

    `statement`: APPEND_AT_HEAD with another final SELECT (the trail's commit setting).
    `prepared`: run it as a statement PREPAREd once per connection: no parsing nor
    planning per event, the trail's hot path (benchmarks/trail_overhead.py). Django's
    driver connection has psycopg's automatic preparation off, hence the SQL PREPARE.
    """
    pii = event.get("pii", {})
    key, sidecar_keys = event_keys(event["user_id"], pii)
    params = {
        **event,
        "subject_key": key,
        "sidecar_keys": [sidecar_keys.get(name) for name in pii],
        "details": orjson.dumps(event["details"]).decode(),
        "pii_commitments": orjson.dumps(event["pii_commitments"]).decode(),
        "canonical": canonical_body(event).decode(),
        "fields": list(pii),
        "values": [orjson.dumps(entry["value"]).decode() for entry in pii.values()],
        "salts": [entry["salt"] for entry in pii.values()],
    }
    if prepared and connection.vendor == "postgresql":
        name = _prepared_on_this_connection(statement or APPEND_AT_HEAD)
        with connection.cursor() as cursor:
            cursor.execute(
                f"EXECUTE {name} ({', '.join(['%s'] * len(_APPEND_PARAMETERS))})",
                [params[parameter] for parameter, _type in _APPEND_PARAMETERS],
            )
            return cursor.fetchone()[0] == 1
    with connection.cursor() as cursor:
        cursor.execute(statement or APPEND_AT_HEAD, params)
        return cursor.fetchone()[0] == 1


# The parameters of APPEND_AT_HEAD in the order of a prepared statement, with their types.
_APPEND_PARAMETERS = (
    ("seq", "bigint"),
    ("hash", "text"),
    ("stream", "text"),
    ("prev_hash", "text"),
    ("event_id", "text"),
    ("ts", "text"),
    ("agent_id", "text"),
    ("action", "text"),
    ("result", "text"),
    ("user_id", "text"),
    ("resource", "text"),
    ("details", "text"),
    ("trace_id", "text"),
    ("span_id", "text"),
    ("pii_commitments", "text"),
    ("canonical", "text"),
    ("fields", "text[]"),
    ("values", "text[]"),
    ("salts", "text[]"),
    ("subject_key", "text"),
    ("sidecar_keys", "text[]"),
)
# Which statements each open driver connection has prepared (a new connection has none).
_prepared: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def _prepared_on_this_connection(statement: str) -> str:
    """The name of `statement` PREPAREd on the current connection (prepared on first use)."""
    connection.ensure_connection()
    names = _prepared.setdefault(connection.connection, {})
    if statement not in names:
        name = f"obsportal_append_at_head_{len(names)}"
        text = statement
        for index, (parameter, _type) in enumerate(_APPEND_PARAMETERS, start=1):
            text = text.replace(f"%({parameter})s", f"${index}")
        types = ", ".join(kind for _parameter, kind in _APPEND_PARAMETERS)
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE {name} ({types}) AS {text}")
        names[statement] = name
    return names[statement]
