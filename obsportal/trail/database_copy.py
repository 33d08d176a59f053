"""The database copy of a trail stream: its journal's events, stored in chain order.

One function stores them, whoever calls it: the background copier of the process that
writes the journal, a request that must store its event inside its own transaction,
and the recovery of a journal whose process died. Under the stream's head lock it
skips what the database already holds, fills a gap below the first event from the
journal (a transaction that stored a row and rolled back; a commit lost when the
database crashed, the copy's commit being asynchronous), and refuses anything that
does not link to the stored head: a divergence is never stored over.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from agents_sdk.audit.chain import InvalidEvent, verify_event_hash
from agents_sdk.audit.journal import read_events
from obsportal.ingest import head_append, storage
from obsportal.ingest.services import locked_heads

# The compare-and-set whose commit does not wait for the WAL flush (outside a caller's
# transaction): the journal holds the event durably already.
ASYNC_COMMIT = head_append.APPEND_AT_HEAD.replace(
    "SELECT count(*) FROM stored",
    "SELECT (SELECT count(*) FROM stored), set_config('synchronous_commit', 'off', true)",
)


class Diverged(Exception):
    """The database's copy of a trail stream is not the chain its journal holds."""


def store_in_chain_order(
    agent_id: str,
    stream: str,
    events: list[dict[str, Any]],
    journal: Path | None,
    *,
    asynchronous_commit: bool = False,
) -> int:
    """Store those of `events` (consecutive, in chain order) that the database lacks.

    Returns how many rows were stored, gap included. `asynchronous_commit`: the journal
    already holds the events durably, so the copy's commit need not wait for the WAL
    flush (only outside a caller's transaction, whose commit is the caller's).
    """
    with transaction.atomic():
        if asynchronous_commit and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        head = locked_heads(agent_id, [stream])[stream]
        missing = [event for event in events if event["seq"] > head.seq]
        if not missing:
            _check_held(head.seq, head.hash, events)
            return 0
        first = missing[0]["seq"]
        if first > head.seq + 1:
            if journal is None:
                raise Diverged(f"stream {stream}: the database stops at seq {head.seq}")
            missing = [*journal_range(journal, head.seq + 1, first - 1), *missing]
        if missing[0]["seq"] != head.seq + 1 or missing[0]["prev_hash"] != head.hash:
            raise Diverged(
                f"stream {stream}: seq {missing[0]['seq']} does not link to the stored head"
                f" (seq {head.seq})"
            )
        storage.store_events(missing)
        head.seq, head.hash = missing[-1]["seq"], missing[-1]["hash"]
        storage.save_heads([head])
        return len(missing)


def store_at_head(events: list[dict[str, Any]], statement: str | None) -> bool:
    """Store `events` (consecutive) by the prepared compare-and-set, one round trip each:
    tens of microseconds of Python an event, where the locked path costs a millisecond.
    False, and nothing stored, when the head is not where the first one links."""
    if len(events) == 1:
        return head_append.append_at_head(events[0], statement, prepared=True)
    with transaction.atomic():
        if all(head_append.append_at_head(e, statement, prepared=True) for e in events):
            return True
        transaction.set_rollback(True)
    return False


def journal_range(journal: Path, first: int, last: int) -> list[dict[str, Any]]:
    """Events `first`..`last` of `journal`, each re-hashed and linked to the one before."""
    found = [event for event in verified(read_events(journal)) if first <= event["seq"] <= last]
    if [event["seq"] for event in found] != list(range(first, last + 1)):
        raise Diverged(f"journal {journal} does not hold seq {first}..{last}")
    return found


def verified(events: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """`events` (a journal's, in order), each re-hashed and linked to the one before."""
    previous: dict[str, Any] | None = None
    for event in events:
        try:
            verify_event_hash(event)
        except (InvalidEvent, KeyError, TypeError, ValueError) as exc:
            raise Diverged(f"seq {event.get('seq')} of the journal does not verify: {exc}") from exc
        if previous is not None and event["prev_hash"] != previous["hash"]:
            raise Diverged(
                f"seq {event['seq']} of the journal does not link to seq {previous['seq']}"
            )
        previous = event
        yield event


def _check_held(seq: int, stored_hash: str, events: list[dict[str, Any]]) -> None:
    """The database is at or past every event: the one at its head must be the same."""
    for event in events:
        if event["seq"] == seq and event["hash"] != stored_hash:
            raise Diverged(f"stream {event['stream']}: seq {seq} is another event in the database")
