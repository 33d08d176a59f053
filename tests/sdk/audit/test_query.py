"""Local queries stream over every file and decide exactly, whatever the details contain."""

from datetime import UTC, datetime, timedelta

import pytest

from agents_sdk import JournalWriter
from agents_sdk.audit.query import EventFilter, follow_lines, normalize_time, query, query_lines
from agents_sdk.audit.segments import JournalPosition, journal_files, list_segments
from tests.independent_chain import read_journal


@pytest.fixture
def journal(tmp_path):
    """60 events over several rotated files, with details that imitate top-level fields."""
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", fsync="always", rotate_bytes=5_000) as writer:
        for i in range(60):
            writer.append(
                ("tool_execute", "llm_call", "data_access")[i % 3],
                ("success", "failure", "denied", "error")[i % 4],
                user_id=None if i % 5 == 0 else f"user-{i % 5}",
                # Nested look-alikes of the filtered fields must never match.
                details={
                    "agent_id": "agent-2",
                    "user_id": "user-9",
                    "result": "denied",
                    "action": "llm_call",
                    "i": i,
                },
            )
        # A user_id whose text imitates the start of another field (an action can no
        # longer hold a quote: its charset is that of identifiers).
        writer.append("evil", "success", user_id='ünï","agent_id":"agent-2')
    assert len(list_segments(path)) >= 2
    return path


def expected(path, **conditions):
    events = []
    for file in sorted(path.parent.glob(path.name + ".*")):
        if file.name.rsplit(".", 1)[1].isdigit():
            events.extend(read_journal(file))
    events.extend(read_journal(path))
    return [e["seq"] for e in events if all(e[k] == v for k, v in conditions.items())]


@pytest.mark.parametrize(
    "conditions",
    [
        {"agent_id": "agent-1"},
        {"agent_id": "agent-2"},
        {"action": "llm_call"},
        {"action": "evil"},
        {"user_id": 'ünï","agent_id":"agent-2'},
        {"user_id": "user-3"},
        {"user_id": "user-9"},
        {"result": "denied"},
        {"action": "tool_execute", "result": "failure", "user_id": "user-1"},
    ],
)
def test_filters_match_exactly_what_an_independent_reader_finds(journal, conditions):
    found = [e["seq"] for e in query(journal, EventFilter.build(**conditions))]
    assert found == expected(journal, **conditions)


def test_query_lines_are_the_stored_bytes(journal):
    lines = list(query_lines(journal, EventFilter.build(action="data_access")))
    stored = journal.read_bytes().splitlines(keepends=True)
    for file in list_segments(journal):
        stored += file.path.read_bytes().splitlines(keepends=True)
    assert lines and set(lines) <= set(stored)


def test_time_range_is_half_open_and_accepts_iso_forms(journal):
    events = list(query(journal, EventFilter.build()))
    middle = events[30]["ts"]
    after = [e["seq"] for e in query(journal, EventFilter.build(since=middle))]
    before = [e["seq"] for e in query(journal, EventFilter.build(until=middle))]
    assert sorted(after + before) == [e["seq"] for e in events]
    assert all(e["ts"] >= middle for e in query(journal, EventFilter.build(since=middle)))
    stamp = datetime.fromisoformat(middle.replace("Z", "+00:00"))
    shifted = stamp.astimezone(UTC).astimezone(__import__("datetime").timezone(timedelta(hours=2)))
    assert normalize_time(shifted.isoformat()) == middle
    assert normalize_time("2026-01-31") == "2026-01-31T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"since": "yesterday"}, "not an ISO 8601 time"), ({"result": "maybe"}, "not one of")],
)
def test_bad_filters_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EventFilter.build(**kwargs)


def test_follow_sees_new_events_across_a_rotation(tmp_path):
    import threading

    path = tmp_path / "agent.jsonl"
    writer = JournalWriter(path, "agent-1", fsync="always", rotate_bytes=2_000)
    writer.append("before")
    last = journal_files(path)[-1]
    start = JournalPosition(last.base, last.path.stat().st_size)  # the end, before the writes
    stop = threading.Event()
    seen: list[bytes] = []

    def follow():
        for line in follow_lines(
            path, EventFilter.build(action="after"), start=start, poll_interval=0.02, stop=stop
        ):
            seen.append(line)  # noqa: PERF402 - the test thread watches `seen` grow line by line

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        for i in range(30):
            writer.append("after", details={"i": i})
        deadline = datetime.now() + timedelta(seconds=10)
        while len(seen) < 30 and datetime.now() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
        writer.close()
    assert len(list_segments(path)) >= 2
    assert len(seen) == 30
    assert [int(line.split(b'"i":')[1].split(b"}")[0]) for line in seen] == list(range(30))
