"""The shipper's cursor: how far a journal has been acknowledged by the portal.

The position names a file by the seq of its first event (its base), so the
cursor stays valid when rotation renames the active file to a segment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from agents_sdk.audit.segments import JournalPosition, first_seq, journal_files


@dataclass(frozen=True, slots=True)
class Cursor:
    base: int = 0  # seq of the first event of the file the offset is in
    offset: int = 0  # byte offset in that file after the last acknowledged line
    seq: int = -1  # seq of the last acknowledged event

    @property
    def position(self) -> JournalPosition:
        return JournalPosition(self.base, self.offset)


def cursor_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".shipped")


def load_cursor(journal: Path) -> Cursor:
    path = cursor_path(journal)
    if not path.exists():
        files = journal_files(journal)
        return Cursor(base=files[0].base if files else 0)
    data = orjson.loads(path.read_bytes())
    # A cursor written before rotation existed has its offset in the (only) active file.
    base = int(data["base"]) if "base" in data else first_seq(journal) or 0
    return Cursor(base=base, offset=int(data["offset"]), seq=int(data["seq"]))


def save_cursor(journal: Path, cursor: Cursor) -> None:
    """Replace the cursor atomically (write, fsync, rename) so a crash leaves old or new."""
    path = cursor_path(journal)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(
            orjson.dumps({"base": cursor.base, "offset": cursor.offset, "seq": cursor.seq})
        )
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
