"""CSV of one population, streamed row by row: flat memory whatever its size.

A cell that a spreadsheet would run as a formula (= + - @, tab, CR first) is prefixed with
an apostrophe (OWASP CSV injection); agents choose resource and user ids, auditors open CSVs.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass
class WrittenPopulation:
    rows: int = 0
    sha256: str = ""
    bytes: int = 0
    sample: list[list[Any]] = field(default_factory=list)  # [row number, *cells]


class _Digesting:
    def __init__(self, handle):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, text: str) -> None:
        data = text.encode()
        self.digest.update(data)
        self.size += len(data)
        self.handle.write(data)


def write_population(
    path: Path, columns: Iterable[str], rows: Iterable[list[Any]], sample_at: set[int]
) -> WrittenPopulation:
    """Write the CSV; keep the rows whose 0-based index is in `sample_at` (the sample)."""
    columns = list(columns)
    written = WrittenPopulation()
    with path.open("wb") as handle:
        out = _Digesting(handle)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for index, row in enumerate(rows):
            cells = [cell(v) for v in row]
            writer.writerow(cells)
            if index in sample_at:
                written.sample.append([index + 1, *cells])
            written.rows += 1
    written.sha256, written.bytes = out.digest.hexdigest(), out.size
    return written
