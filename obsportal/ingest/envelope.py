"""Envelope v1 and the audit row: the one place a stored row becomes an envelope and back.

An event is stored column for column, in the chain's own field order
(`agents_sdk.audit.chain.HASHED_FIELDS` plus `hash`, all but the constant `v`), so
the body its agent hashed is rebuilt exactly. Three columns differ in form only:
`stream` is the model's foreign key (`stream_id`), `event_id` a UUID and `ts` a
timestamp, written back in the envelope's RFC 3339 form by `format_ts` (or by
PostgreSQL itself, `TEXT_FORMS`, where the walk reads rows as text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any

import orjson

from agents_sdk.audit.chain import HASHED_FIELDS
from obsportal.ingest.models import AuditEvent

# The AuditEvent columns that hold envelope fields (all but the constant `v`), in envelope order.
ENVELOPE_COLUMNS = tuple(name for name in (*HASHED_FIELDS, "hash") if name != "v")
# The database column (and model attribute) of each envelope field.
STORED_AS = {name: "stream_id" if name == "stream" else name for name in ENVELOPE_COLUMNS}
JSON_COLUMNS = ("details", "pii_commitments")
# The columns of a stream's rows as the walk reads them: every envelope column but `stream`.
STREAM_ROW_COLUMNS = tuple(name for name in ENVELOPE_COLUMNS if name != "stream")
# PostgreSQL's text of a column in the envelope's form (`format_ts` as `to_char`, UUID
# text, jsonb as JSON text): measured ~2x faster than the ORM's per-row conversions.
TEXT_FORMS = {
    "event_id": "event_id::text",
    "ts": "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    "details": "details::text",
    "pii_commitments": "pii_commitments::text",
}
# The columns a COPY of new rows fills: the envelope's, the canonical body, the time of
# storage, then the subject key (obsportal.ingest.subjects).
COPY_COLUMNS = (
    *(STORED_AS[name] for name in ENVELOPE_COLUMNS),
    "canonical",
    "received_at",
    "subject_key",
)
# The RFC 8785 bytes each event of a batch was hashed over, by (stream, seq).
Canonicals = dict[tuple[str, int], bytes]

_BODY_FIELDS = tuple(name for name in HASHED_FIELDS if name not in ("v", "stream"))
_read_row = attrgetter(*(STORED_AS[name] for name in ENVELOPE_COLUMNS))
_take_fields = itemgetter(*ENVELOPE_COLUMNS)
_EVENT_ID, _TS = ENVELOPE_COLUMNS.index("event_id"), ENVELOPE_COLUMNS.index("ts")
_DETAILS, _COMMITMENTS = (ENVELOPE_COLUMNS.index(name) for name in JSON_COLUMNS)


def format_ts(value: datetime) -> str:
    """The envelope's RFC 3339 form of a stored timestamp (UTC, microseconds, Z)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """A timestamp of the envelope's form (or any ISO 8601 with an offset) as a datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- row -> envelope ---------------------------------------------------------------------


def envelope_json(canonical: str | bytes, digest: str) -> bytes:
    """The event as its journal wrote it (sidecar aside): the canonical body with `hash`."""
    body = canonical.encode() if isinstance(canonical, str) else canonical
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}'


def as_envelope_json(event: AuditEvent) -> bytes:
    """The stored event as JSON bytes, byte for byte what its agent hashed plus `hash`."""
    if event.canonical is not None:
        return envelope_json(event.canonical, event.hash)
    return orjson.dumps(as_envelope(event))  # a row stored before the canonical column


def as_envelope(event: AuditEvent) -> dict[str, Any]:
    """The stored event in envelope-v1 form, the body its agent hashed plus `hash`.

    Parsed from the canonical body (the jsonb columns may have rewritten numbers);
    rebuilt from the columns only for rows stored before that column existed.
    """
    if event.canonical is not None:
        return orjson.loads(envelope_json(event.canonical, event.hash))
    values = list(_read_row(event))
    values[_EVENT_ID] = str(values[_EVENT_ID])
    values[_TS] = format_ts(values[_TS])
    return {"v": 1, **dict(zip(ENVELOPE_COLUMNS, values, strict=True))}


def text_select_list(columns: Sequence[str]) -> str:
    """A SELECT list of `columns` in their envelope text forms."""
    return ", ".join(TEXT_FORMS.get(name, STORED_AS.get(name, name)) for name in columns)


def hashed_body_reader(offset: int = 0) -> Callable[[str, Sequence[Any]], dict[str, Any]]:
    """A function (stream_id, values) -> the hashed body of a stream's row, reading
    `values[offset:]` in STREAM_ROW_COLUMNS order (envelope text forms, JSON parsed).

    Generated once as one dict display from the chain's field list: the walk calls it
    for every row, and `dict(zip(...))` measured ~40% slower than the literal.
    """
    items = ", ".join(f"{name!r}: values[{offset + i}]" for i, name in enumerate(_BODY_FIELDS))
    source = f"def body(stream_id, values):\n    return {{'v': 1, 'stream': stream_id, {items}}}"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # built from the constant field names above, nothing else
    return namespace["body"]


# -- envelope -> row ---------------------------------------------------------------------


def copy_row(
    event: dict[str, Any], canonical: str, received_at: str, subject_key: str | None = None
) -> list[Any]:
    """An admitted event as a text-format COPY row of COPY_COLUMNS (JSON columns as text)."""
    row = list(_take_fields(event))
    row[_DETAILS] = orjson.dumps(row[_DETAILS]).decode()
    row[_COMMITMENTS] = orjson.dumps(row[_COMMITMENTS]).decode()
    row.append(canonical)
    row.append(received_at)
    row.append(subject_key)
    return row


def audit_event(
    event: dict[str, Any], canonical: str, subject_key: str | None = None
) -> AuditEvent:
    """An admitted event as an unsaved AuditEvent (the ORM path)."""
    values = zip(ENVELOPE_COLUMNS, _take_fields(event), strict=True)
    fields = {STORED_AS[name]: value for name, value in values}
    fields["ts"] = parse_ts(event["ts"])
    return AuditEvent(**fields, canonical=canonical, subject_key=subject_key)


def personal_data(event: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(field, value, salt) of each personal-data sidecar an event carries beside its body."""
    for name, entry in event.get("pii", {}).items():
        yield name, entry["value"], entry["salt"]
