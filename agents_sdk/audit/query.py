"""Local queries over a journal (agent, action, user, result, time range), streaming.

No index to keep in step: lines are canonical JSON, so a top-level field has
one exact byte form (`"user_id":"alice"`). A line without those bytes cannot
match and is skipped before any JSON parsing; `agent_id` and `action` sit at
fixed places at the start of every line, so they are decided on the bytes
alone. Only candidates are parsed and checked exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agents_sdk.audit.chain import RESULTS
from agents_sdk.audit.segments import JournalPosition, iter_journal_lines, journal_files

USER_MATCHES = ("exact", "ignore-case", "prefix")
_AGENT_MARK = b'","agent_id":'  # ends the action string; `","` cannot occur inside one


def normalize_time(value: str | datetime) -> str:
    """An ISO 8601 time (or datetime) as the journal's `ts` form, for string comparison."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Equality filters and a half-open time range [since, until); None means any.

    `user_match` says how `user_id` compares: "exact" (default), "ignore-case", or
    "prefix" (the user id starts with it, ignoring case: "alice" finds "Alice@example.com").
    """

    agent_id: str | None = None
    action: str | None = None
    user_id: str | None = None
    result: str | None = None
    since: str | None = None
    until: str | None = None
    user_match: str = "exact"

    @classmethod
    def build(
        cls,
        *,
        agent_id: str | None = None,
        action: str | None = None,
        user_id: str | None = None,
        result: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        user_match: str = "exact",
    ) -> EventFilter:
        if result is not None and result not in RESULTS:
            raise ValueError(f"result {result!r} is not one of {', '.join(sorted(RESULTS))}")
        if user_match not in USER_MATCHES:
            raise ValueError(f"user_match {user_match!r} is not one of {', '.join(USER_MATCHES)}")
        return cls(
            agent_id=agent_id,
            action=action,
            user_id=user_id,
            result=result,
            since=None if since is None else normalize_time(since),
            until=None if until is None else normalize_time(until),
            user_match=user_match,
        )

    def matcher(self) -> Callable[[bytes], bool]:
        """A function line -> bool that decides a raw journal line."""
        head = None
        if self.action is not None:
            head = b'{"action":' + orjson.dumps(self.action) + b',"agent_id":'
        agent = None
        if self.agent_id is not None:
            agent = orjson.dumps(self.agent_id) + b',"details":'
        needles = []
        loose_user = self.user_id is not None and self.user_match != "exact"
        if self.user_id is not None and not loose_user:
            needles.append(b'"user_id":' + orjson.dumps(self.user_id))
        if self.result is not None:
            needles.append(b'"result":"' + self.result.encode() + b'"')
        exact = needles or loose_user or self.since is not None or self.until is not None
        user_id, result, since, until = self.user_id, self.result, self.since, self.until
        folded = (user_id or "").casefold()
        prefix = self.user_match == "prefix"

        def matches(line: bytes) -> bool:
            if head is not None and not line.startswith(head):
                return False
            if agent is not None:
                mark = line.find(_AGENT_MARK)
                if mark < 0 or not line.startswith(agent, mark + len(_AGENT_MARK)):
                    return False
            for needle in needles:
                if needle not in line:
                    return False
            if not exact:
                return True
            event = orjson.loads(line)
            if user_id is not None:
                actual = event["user_id"]
                if not loose_user:
                    if actual != user_id:
                        return False
                elif actual is None:
                    return False
                elif prefix:
                    if not actual.casefold().startswith(folded):
                        return False
                elif actual.casefold() != folded:
                    return False
            if result is not None and event["result"] != result:
                return False
            if since is not None and event["ts"] < since:
                return False
            return until is None or event["ts"] < until

        return matches


def query_lines(path: str | Path, where: EventFilter) -> Iterator[bytes]:
    """Matching journal lines (raw canonical JSON, newline included), oldest first."""
    matches = where.matcher()
    for _, _, line in iter_journal_lines(Path(path)):
        if matches(line):
            yield line


def query(path: str | Path, where: EventFilter) -> Iterator[dict[str, Any]]:
    """Matching events as dicts, oldest first, streaming."""
    loads = orjson.loads
    for line in query_lines(path, where):
        yield loads(line)


def follow_lines(
    path: str | Path,
    where: EventFilter,
    *,
    start: JournalPosition | None = None,
    from_end: bool = False,
    poll_interval: float = 0.2,
    stop: Any = None,
) -> Iterator[bytes]:
    """Like `tail -f`: matching lines as they are written, across rotations.

    Starts at `start` (or the end of the journal with `from_end`, else its
    beginning). `stop` is an optional threading.Event ending the loop.
    """
    path = Path(path)
    matches = where.matcher()
    position = start
    if position is None and from_end:
        files = journal_files(path)
        if files:
            last = files[-1]
            position = JournalPosition(last.base, last.path.stat().st_size)
    while stop is None or not stop.is_set():
        advanced = False
        for file, offset, line in iter_journal_lines(path, position):
            position = JournalPosition(file.base, offset)
            advanced = True
            if matches(line):
                yield line
        if not advanced:
            if stop is not None:
                stop.wait(poll_interval)
            else:
                time.sleep(poll_interval)
