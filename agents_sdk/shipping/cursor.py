"""The shipper's cursor: how far a journal has been acknowledged by the portal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True, slots=True)
class Cursor:
    offset: int = 0  # byte offset in the journal after the last acknowledged line
    seq: int = -1  # seq of the last acknowledged event


def cursor_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".shipped")


def load_cursor(journal: Path) -> Cursor:
    path = cursor_path(journal)
    if not path.exists():
        return Cursor()
    data = orjson.loads(path.read_bytes())
    return Cursor(offset=int(data["offset"]), seq=int(data["seq"]))


def save_cursor(journal: Path, cursor: Cursor) -> None:
    """Replace the cursor atomically (write, fsync, rename) so a crash leaves old or new."""
    path = cursor_path(journal)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(orjson.dumps({"offset": cursor.offset, "seq": cursor.seq}))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
