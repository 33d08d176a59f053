"""A subject export written as JSON (complete), CSV (the events, one row each) and PDF
(for the person to read: WeasyPrint from an HTML template)."""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.template.loader import render_to_string

from obsportal.compliance.models import SubjectRequest

# WeasyPrint logs every layout step at INFO: noise in a worker's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

FORMATS = ("json", "csv", "pdf")
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv", "pdf": "application/pdf"}


def export_dir(request: SubjectRequest) -> Path:
    return Path(settings.OBSPORTAL_EXPORT_DIR) / "subjects" / str(request.id)


def _write(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def render_json(content: dict[str, Any]) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_INDENT_2)


def render_csv(content: dict[str, Any]) -> bytes:
    out = io.StringIO()
    if "disclosures" in content:
        columns = ["date", "recipient", "description", "purpose", "agent_id", "event_id"]
        rows = content["disclosures"]
    else:
        columns = [
            "ts",
            "agent_id",
            "action",
            "result",
            "resource",
            "stream",
            "seq",
            "event_id",
            "personal_data",
            "erased_fields",
            "details",
        ]
        rows = content["events"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: (orjson.dumps(v).decode() if isinstance(v, dict | list) else v)
                for k, v in row.items()
            }
        )
    return out.getvalue().encode()


def render_pdf(content: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # heavy import: only where a PDF is made

    html = render_to_string("compliance/subject_export.html", {"c": content})
    return HTML(string=html).write_pdf()


def write_all(request: SubjectRequest, content: dict[str, Any]) -> dict[str, str]:
    """Write the three files; format -> file name inside export_dir(request)."""
    folder = export_dir(request)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{request.reference}-{request.kind}"
    files = {}
    for fmt, render in (("json", render_json), ("csv", render_csv), ("pdf", render_pdf)):
        name = f"{stem}.{fmt}"
        _write(folder / name, render(content))
        files[fmt] = name
    return files


def file_path(request: SubjectRequest, fmt: str) -> Path | None:
    name = (request.files or {}).get(fmt)
    return export_dir(request) / name if name else None
