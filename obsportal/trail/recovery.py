"""Trail journals whose process died before its database copy caught up: stored now.

A portal process answers a read once its trail line is written, and copies the event
into the database in the background (`trail.copier`). When the process is killed in
between (kill -9, the OOM killer, a host going down), the journal holds events the
database lacks. Recovery walks the trail's journal directory; a journal whose writer
lock is free belongs to no live process (a live one holds its `flock`), and what it
holds past the database's head of its stream is re-hashed, linked and stored
(`database_copy.store_in_chain_order`). Holding the lock while it works keeps a second
recovery off the same journal; storing under the stream's head lock makes a race with
anything else harmless (what is stored is skipped). Each journal recovered is itself an
event on the trail (`trail.recover`: how many events, and whether the database knew
the stream before).

A dead journal never changes again (its stream name holds its process's pid and a random
part, so no process reopens it): once the database holds all of it, `<journal>.stored`
says so, and later passes count it without reading it (`recheck=True` reads them all
again: after restoring the database from a backup).

Run by beat (`trail-recover`) and by `manage.py recover_trail`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import orjson
from django.db import DatabaseError

from agents_sdk.audit.journal import JournalError, JournalLocked, acquire_writer_lock, read_events
from agents_sdk.audit.opening import read_head
from obsportal.ingest.models import Stream
from obsportal.ingest.verdicts import BatchRefused
from obsportal.trail.database_copy import Diverged, store_in_chain_order, verified
from obsportal.trail.process import (
    TrailUnavailable,
    trail_agent_id,
    trail_journal_dir,
    trail_stream,
)
from obsportal.trail.services import record_trail

BATCH_EVENTS = 2_000


@dataclass
class Recovery:
    """What one pass over the trail's journals found and did."""

    journals: int = 0
    live: int = 0  # written by a live process: left to it
    complete: int = 0  # the database holds all of it
    recovered: dict[str, int] = field(default_factory=dict)  # stream -> events stored
    failed: dict[str, str] = field(default_factory=dict)  # journal -> why

    @property
    def events(self) -> int:
        return sum(self.recovered.values())

    def summary(self) -> str:
        return (
            f"{self.journals} trail journal{'' if self.journals == 1 else 's'}: "
            f"{self.live} being written by a live process, "
            f"{self.complete} complete in the database, {len(self.recovered)} recovered "
            f"({self.events} events stored), {len(self.failed)} failed"
        )


def recover_trail_journals(
    directory: Path | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    recheck: bool = False,
) -> Recovery:
    """Store what the trail journals in `directory` hold and the database lacks."""
    directory = trail_journal_dir() if directory is None else directory
    found = Recovery()
    for journal in sorted(directory.glob("*.jsonl")):
        found.journals += 1
        if not recheck and stored_marker(journal).exists():
            found.complete += 1
            continue
        try:
            lock = acquire_writer_lock(journal)
        except JournalLocked:
            found.live += 1
            continue
        except OSError as exc:
            found.failed[journal.name] = str(exc)
            continue
        try:
            stored = _recover(journal)
        except (Diverged, JournalError, DatabaseError, BatchRefused, ValueError) as exc:
            found.failed[journal.name] = str(exc)
            if progress:
                progress(f"{journal.name}: not recovered: {exc}")
            continue
        finally:
            lock.close()
        _mark_stored(journal)
        if stored is None:
            found.complete += 1
            continue
        stream, count, known = stored
        found.recovered[stream] = count
        if progress:
            progress(f"{journal.name}: stored {count} events of stream {stream}")
        try:
            # On the record: what was stored, and whether the database knew the stream (a
            # journal the portal never began to copy is the one to look at twice).
            record_trail(
                "trail.recover",
                resource=f"stream:{stream}",
                details={"journal": journal.name, "events": count, "stream_known": known},
            )
        except TrailUnavailable as exc:
            found.failed[journal.name] = f"stored, but not recorded on the trail: {exc}"
    return found


def stored_marker(journal: Path) -> Path:
    return journal.with_name(journal.name + ".stored")


def _mark_stored(journal: Path) -> None:
    """The database holds every event of `journal`, whose writer is gone."""
    head = read_head(journal)
    marker = {"stream": head.stream, "seq": head.seq, "hash": head.hash}
    stored_marker(journal).write_bytes(orjson.dumps(marker) + b"\n")


def _recover(journal: Path) -> tuple[str, int, bool] | None:
    """(stream, events stored, whether the database knew the stream) for `journal`; None
    when the database already holds it all."""
    head = read_head(journal)
    if head.seq < 0:
        return None
    if not head.stream.startswith(f"{trail_stream()}-"):
        raise ValueError(f"stream {head.stream} is not one of the portal's trail streams")
    at = Stream.objects.filter(id=head.stream).values_list("head_seq", "head_hash").first()
    if at == (head.seq, head.hash):
        return None
    stored_seq = -1 if at is None else at[0]
    if stored_seq >= head.seq:
        raise Diverged(
            f"the database holds another chain at stream {head.stream} seq {stored_seq}"
            f" than its journal (which ends at seq {head.seq})"
        )
    # Every line re-hashed and linked before any is stored (the journal's writer lock is
    # held: nothing changes it meanwhile): an altered line stops the whole journal.
    for _event in verified(read_events(journal)):
        pass
    events = (event for event in read_events(journal) if event["seq"] > stored_seq)
    total = 0
    while batch := list(islice(events, BATCH_EVENTS)):
        for event in batch:
            if event["agent_id"] != trail_agent_id():
                raise ValueError(f"seq {event['seq']} is not the portal's own event")
        total += store_in_chain_order(trail_agent_id(), head.stream, batch, journal)
    return head.stream, total, at is not None
