"""Rotation keeps one chain across files; readers, the writer and a crash all see it whole."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from agents_sdk import JournalWriter
from agents_sdk.audit.journal import read_events, torn_path
from agents_sdk.audit.segments import journal_files, list_segments
from tests.independent_chain import read_journal, verify_chain
from tests.sdk.journal_files import all_events


def test_size_rotation_keeps_one_chain_across_files(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", fsync="always", rotate_bytes=4_000) as journal:
        for i in range(60):
            journal.append("step", details={"i": i})
    segments = list_segments(path)
    assert len(segments) >= 5
    events = all_events(path)
    assert [e["seq"] for e in events] == list(range(60))
    assert len({e["stream"] for e in events}) == 1
    assert verify_chain(events) == []
    # Each segment is named after the seq of its first event and holds at least rotate_bytes.
    for segment in segments:
        first = read_journal(segment.path)[0]
        assert first["seq"] == segment.base
        assert segment.path.stat().st_size >= 4_000
    assert [e["seq"] for e in read_events(path)] == list(range(60))


def test_time_rotation_starts_a_new_file_after_the_interval(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", fsync="batch", rotate_seconds=0.2) as journal:
        journal.append("first")
        assert journal.flush(timeout=5)
        time.sleep(0.5)
        journal.append("second")
        assert journal.flush(timeout=5)
    assert len(list_segments(path)) >= 1
    assert [e["action"] for e in all_events(path)] == ["first", "second"]
    assert verify_chain(all_events(path)) == []


def test_reopening_after_rotation_continues_from_the_last_segment(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", fsync="always", rotate_bytes=1) as journal:
        journal.append("a")
        journal.append("b")
    # rotate_bytes=1 rotated after every write: the active file is empty now.
    assert path.stat().st_size == 0
    with JournalWriter(path, "agent-1") as journal:
        assert journal.last_seq == 1
        journal.append("c")
    events = all_events(path)
    assert [e["action"] for e in events] == ["a", "b", "c"]
    assert verify_chain(events) == []
    assert [f.base for f in journal_files(path)] == [0, 1, 2]


def test_explicit_rotate_and_flush(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1") as journal:
        journal.append("a")
        journal.rotate()
        journal.append("b")
        assert journal.flush(timeout=5)
        assert journal.durable_position.base == 1
    assert [f.base for f in list_segments(path)] == [0]
    assert verify_chain(all_events(path)) == []


ROTATING_WRITER = textwrap.dedent(
    """
    import sys
    from agents_sdk import JournalWriter
    journal = JournalWriter(sys.argv[1], "agent-1", fsync="always", rotate_bytes=20_000)
    print("ready", flush=True)
    i = 0
    while True:
        journal.append("step", details={"i": i, "pad": "x" * 200})
        i += 1
    """
)


def test_kill_9_of_a_rotating_writer_then_reopen_continues_the_chain(tmp_path):
    path = tmp_path / "agent.jsonl"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [sys.executable, "-c", ROTATING_WRITER, str(path)], stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 30
    while len(list_segments(path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(list_segments(path)) >= 3
    with open(path, "ab") as handle:  # the torn write a crash mid-line leaves
        handle.write(b'{"v":1,"event_id":"torn')
    before = len(all_events_tolerant(path))

    with JournalWriter(path, "agent-1", rotate_bytes=20_000) as journal:
        assert journal.torn_tail is not None
        journal.append("after_crash")
    events = all_events(path)
    assert len(events) == before + 1
    assert events[-1]["action"] == "after_crash"
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert verify_chain(events) == []
    assert torn_path(path).exists()


def all_events_tolerant(path):
    events = []
    for file in journal_files(path):
        for line in file.path.read_bytes().split(b"\n"):
            if line.endswith(b"}"):
                events.append(line)
    return events
