"""Exports of an event search's results (CSV or JSON) as jobs: recorded on the trail when
requested, then built by a Celery task (queue `exports`) into a file.

The pattern of integrity's evidence exports: the request is checked at once (a query
the filter refuses is a 400 before anything is queued), the row and its trail record
are written in one transaction, and the build is queued once that commits. The build
reads the search through `search_events` with the requester's own access, so an export
holds exactly what the page and the API list for the same parameters, no more.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from obsportal.accounts.services import record_portal_change as record_change
from obsportal.events.models import EventExport
from obsportal.events.selectors import search_events
from obsportal.ingest.envelope import ENVELOPE_COLUMNS, as_envelope, as_envelope_json

# Parameters of a search that are not filters: paging and rendering.
NOT_FILTERS = frozenset({"cursor", "page_size", "format", "export"})
CHUNK = 2000
PERSONAL = frozenset({"user_id"})


def search_query(params: QueryDict) -> str:
    """The filters of a search as a query string (paging and rendering left out)."""
    kept = [(k, v) for k in params for v in params.getlist(k) if k not in NOT_FILTERS and v]
    return urlencode(kept)


def request_event_export(params: QueryDict, fmt: str, user: Any) -> EventExport:
    """Check the search, record the request (row and trail, one transaction), queue the build."""
    from obsportal.events.tasks import build_event_export

    if fmt not in EventExport.Format.values:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(EventExport.Format.values)}")
    query = search_query(params)
    parsed = QueryDict(query)
    search_events(parsed, user).exists()  # raises InvalidEventQuery on a bad one
    # A searched person's id is personal data: in the trail's sidecar, not its hashed body.
    shown = {k: ("(personal data, in the sidecar)" if k in PERSONAL else parsed[k]) for k in parsed}
    personal = {f"filters.{k}": parsed[k] for k in parsed if k in PERSONAL}
    with transaction.atomic():
        export = EventExport.objects.create(query=query, format=fmt, requested_by=user)
        record_change(
            user,
            "events.export",
            export,
            {"export": export.pk, "format": fmt, "filters": shown},
            personal=personal,
        )
        transaction.on_commit(lambda: build_event_export.delay(export.pk))
    return export


def export_path(export: EventExport) -> Path:
    return Path(settings.OBSPORTAL_EXPORT_DIR) / f"events-{export.pk:08d}.{export.format}"


def build_event_export(export_id: int) -> EventExport:
    """Write one export's file; a failure is kept on the row."""
    export = EventExport.objects.select_related("requested_by").get(pk=export_id)
    if export.status == EventExport.Status.DONE:
        return export  # a redelivered task
    export.status = EventExport.Status.RUNNING
    export.save(update_fields=["status"])
    path = export_path(export)
    partial = path.with_suffix(".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        events = search_events(QueryDict(export.query), export.requested_by)
        with partial.open("wb") as out:
            digest = _Digesting(out)
            rows = (write_json if export.format == "json" else write_csv)(events, digest)
        os.replace(partial, path)
    except Exception as exc:
        export.status, export.error = EventExport.Status.FAILED, f"{type(exc).__name__}: {exc}"
        partial.unlink(missing_ok=True)
        raise
    else:
        export.status, export.rows, export.file_name = EventExport.Status.DONE, rows, path.name
        export.size_bytes, export.sha256 = digest.size, digest.hexdigest()
    finally:
        export.finished_at = timezone.now()
        export.save()
    return export


class _Digesting:
    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.size, self._sha = out, 0, hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.size += len(data)
        self._sha.update(data)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def write_json(events, out: _Digesting) -> int:
    """A JSON array of envelopes, each exactly the bytes the API serves for it."""
    rows = 0
    out.write(b"[")
    for event in events.iterator(chunk_size=CHUNK):
        out.write(b"\n" if rows == 0 else b",\n")
        out.write(as_envelope_json(event))
        rows += 1
    out.write(b"\n]\n" if rows else b"]\n")
    return rows


def write_csv(events, out: _Digesting) -> int:
    """One row an event, the envelope's columns; details and commitments as JSON text."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["v", *ENVELOPE_COLUMNS])
    rows = 0
    for event in events.iterator(chunk_size=CHUNK):
        envelope = as_envelope(event)
        writer.writerow([_cell(envelope.get(name)) for name in ("v", *ENVELOPE_COLUMNS)])
        rows += 1
        if rows % CHUNK == 0:
            out.write(text.getvalue().encode())
            text.seek(0)
            text.truncate()
    out.write(text.getvalue().encode())
    return rows


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value
