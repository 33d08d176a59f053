import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents_sdk import AuditConfig, InvalidEvent, JournalLocked, JournalWriter, Observability
from agents_sdk.audit.journal import JournalClosed, torn_path
from tests.independent_chain import read_journal, verify_chain


def test_recorded_events_verify_independently(tmp_path):
    path = tmp_path / "agent.jsonl"
    with Observability("agent-1", audit=AuditConfig(path, ship=False)) as obs:
        obs.record_audit("llm_call", details={"model": "m", "cost_usd": 0.5, "ünï": [1.5, None]})
        obs.record_audit(
            "tool_execute",
            "failure",
            user_id="u-1",
            resource="db://x",
            personal_data={"email": "u1@example.com"},
        )
    events = read_journal(path)
    assert [e["seq"] for e in events] == [0, 1]
    assert verify_chain(events) == []
    assert events[1]["pii"]["email"]["value"] == "u1@example.com"
    assert "u1@example.com" not in json.dumps({k: v for k, v in events[1].items() if k != "pii"})


def test_reopening_continues_the_same_chain(tmp_path):
    path = tmp_path / "agent.jsonl"
    for _ in range(3):
        with JournalWriter(path, "agent-1") as journal:
            journal.append("step")
            journal.append("step")
    events = read_journal(path)
    assert [e["seq"] for e in events] == list(range(6))
    assert len({e["stream"] for e in events}) == 1
    assert verify_chain(events) == []


def test_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "agent.jsonl"
    with (
        JournalWriter(path, "agent-1"),
        pytest.raises(JournalLocked, match="already open for writing"),
    ):
        JournalWriter(path, "agent-1")


def test_a_second_writer_in_another_process_is_refused(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1"):
        code = f"from agents_sdk import JournalWriter\nJournalWriter({str(path)!r}, 'agent-1')"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "JournalLocked" in proc.stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"details": {"x": float("nan")}}, "NaN"),
        ({"details": {"deep": [{"x": float("inf")}]}}, r"\$\.deep\[0\]\.x: inf"),
        ({"details": {"x": -float("inf")}}, "Infinity"),
        ({"details": {"when": object()}}, "not a JSON value"),
        ({"details": {"at": __import__("datetime").datetime.now()}}, "datetime is not a JSON"),
        ({"details": {1: "int key"}}, "keys must be strings"),
        ({"details": {"n": 2**60}}, "outside the range"),
        ({"details": {"n": [2.0**53]}}, "read back as an integer outside"),
        ({"personal_data": {"n": -(2.0**60)}}, "read back as an integer outside"),
        ({"details": {"s": "nul\x00"}}, "NUL"),
        ({"result": "maybe"}, "not one of"),
        ({"result": None}, "not one of"),
        ({"result": ["success"]}, "not one of"),
        ({"details": {"blob": "x" * 70_000}}, "limit is 65536"),
        ({"details": {"blob": "é" * 40_000}}, "limit is 65536"),
        ({"details": "text"}, "details must be a dict"),
        ({"user_id": 42}, "user_id must be a string"),
        ({"user_id": "u" * 201}, "user_id is 201 characters"),
        ({"resource": "nul\x00"}, "NUL"),
        ({"action": ""}, "action must be a non-empty string"),
        ({"action": None}, "action must be a non-empty string"),
        ({"trace_id": "not-hex"}, "trace_id must be 32 lowercase hex"),
        ({"span_id": "ABCDEF0123456789"}, "span_id must be 16 lowercase hex"),
        ({"personal_data": {"email": {1, 2}}}, "personal_data\\['email'\\]"),
        ({"personal_data": {"email": float("nan")}}, "NaN"),
    ],
)
def test_bad_input_raises_and_writes_nothing(tmp_path, kwargs, message):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1") as journal:
        journal.append("ok")
        with pytest.raises(InvalidEvent, match=message):
            journal.append(kwargs.pop("action", "tool_execute"), **kwargs)
        journal.append("ok")
    events = read_journal(path)
    assert [e["seq"] for e in events] == [0, 1]
    assert verify_chain(events) == []
    assert not torn_path(path).exists()


def test_an_event_just_under_the_size_limit_is_recorded(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1") as journal:
        journal.append("ok", details={"blob": "x" * 64_000})
    assert verify_chain(read_journal(path)) == []


TEXT = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",)))
# user_id and resource: free text without control characters; action: an identifier.
FREE_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")))
IDENTIFIER = st.from_regex(r"[A-Za-z0-9._:@+-]{1,200}", fullmatch=True)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    # Integral floats beyond 2^53 (below 1e21) are refused: tested with the bad input.
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: not (2**53 <= abs(f) < 1e21 and f.is_integer())
    )
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=IDENTIFIER,
    user_id=st.none() | FREE_TEXT.map(lambda s: s[:200]),
    resource=st.none() | FREE_TEXT.map(lambda s: s[:1000]),
    details=st.dictionaries(TEXT, JSON, max_size=5),
    personal=st.none() | st.dictionaries(TEXT.filter(bool), JSON, min_size=1, max_size=2),
)
def test_any_valid_input_gives_events_the_independent_verifier_accepts(
    tmp_path_factory, action, user_id, resource, details, personal
):
    path = tmp_path_factory.mktemp("prop") / "agent.jsonl"
    with JournalWriter(path, "agent-u.1", fsync="never") as journal:
        written = journal.append(
            action,
            "error",
            details=details,
            user_id=user_id,
            resource=resource,
            personal_data=personal,
            trace_id="ab" * 16,
            span_id="cd" * 8,
        )
        journal.append("next")
    events = read_journal(path)
    assert verify_chain(events) == []
    assert events[0] == json.loads(json.dumps(written))


@pytest.mark.parametrize("fsync", ["batch", "always", "never", "write"])
def test_every_durability_mode_writes_a_whole_chain(tmp_path, fsync):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", fsync=fsync) as journal:
        for i in range(200):
            journal.append("step", details={"i": i})
        assert journal.flush(timeout=5)
        assert journal.durable_offset == path.stat().st_size
    assert verify_chain(read_journal(path)) == []


WRITER = textwrap.dedent(
    """
    import sys
    from agents_sdk import JournalWriter
    journal = JournalWriter(sys.argv[1], "agent-1", fsync="always")
    print("ready", flush=True)
    i = 0
    while True:
        journal.append("step", details={"i": i, "pad": "x" * 200})
        i += 1
    """
)


def test_kill_9_mid_stream_then_reopen_continues_the_chain(tmp_path):
    path = tmp_path / "agent.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    # Simulate the torn write a crash mid-line leaves behind.
    with open(path, "ab") as handle:
        handle.write(b'{"v":1,"event_id":"torn')
    before = read_journal_lines(path)

    with JournalWriter(path, "agent-1") as journal:
        assert journal.torn_tail is not None
        assert journal.torn_tail.size == len(b'{"v":1,"event_id":"torn')
        journal.append("after_crash")
    events = read_journal(path)
    assert len(events) == before + 1
    assert events[-1]["action"] == "after_crash"
    assert verify_chain(events) == []
    assert torn_path(path).exists()


def read_journal_lines(path):
    return path.read_bytes().count(b"\n")


def test_always_returns_once_durable_and_concurrent_callers_share_fsyncs(tmp_path, monkeypatch):
    import threading

    import agents_sdk.audit.journal as journal_module

    path = tmp_path / "agent.jsonl"
    calls = []
    real_fsync = os.fsync

    def slow_fsync(fd):
        # A slow disk (2 ms per fsync) so that callers pile up behind one flush.
        calls.append(fd)
        time.sleep(0.002)
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", slow_fsync)
    not_durable = []
    with JournalWriter(path, "agent-1", fsync="always") as journal:

        def work():
            for i in range(50):
                event = journal.append("step", details={"i": i})
                if journal.durable_seq < event["seq"]:
                    not_durable.append(event["seq"])

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fsyncs = len(calls)
    assert not_durable == []
    events = read_journal(path)
    assert len(events) == 400
    assert verify_chain(events) == []
    assert fsyncs <= 200  # 400 events, far fewer fsyncs: commits were shared


def test_write_mode_puts_each_line_in_the_file_before_append_returns(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", fsync="write") as journal:
        for i in range(5):
            event = journal.append("step", details={"i": i})
            # In the file already (not yet fsynced: the journal's thread does that).
            assert read_journal(path)[-1]["hash"] == event["hash"]
        assert journal.flush(timeout=5)
        assert journal.durable_seq == 4 and journal.durable_offset == path.stat().st_size
    assert verify_chain(read_journal(path)) == []


def test_write_mode_raises_in_the_caller_when_the_disk_refuses(tmp_path):
    path = tmp_path / "agent.jsonl"
    journal = JournalWriter(path, "agent-1", fsync="write")
    journal.append("step")
    # Durable first: else the journal's thread may fsync the swapped descriptor (EINVAL on
    # a character device) before the next append's write meets the full disk.
    assert journal.flush(timeout=10)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, journal._fd)  # the file's disk is full from now on
    os.close(full)
    with pytest.raises(JournalClosed, match="No space left"):
        journal.append("step")
    with pytest.raises(JournalClosed):
        journal.append("step")  # and stays refused: nothing links to a line not on disk
    journal.close()
    assert [e["seq"] for e in read_journal(path)] == [0]


def test_before_write_sees_the_sealed_event_and_a_refusal_writes_nothing(tmp_path):
    path = tmp_path / "agent.jsonl"
    seen = []
    with JournalWriter(path, "agent-1", fsync="write") as journal:
        first = journal.append(
            "step", personal_data={"email": "a@example.com"}, before_write=seen.append
        )
        assert seen == [first] and first["pii"]["email"]["value"] == "a@example.com"

        def refuse(event):
            raise RuntimeError("the copy elsewhere could not be stored")

        with pytest.raises(RuntimeError):
            journal.append("step", before_write=refuse)
        second = journal.append("step")
    # The refused event left no line and no gap: the next one links to the first.
    assert (second["seq"], second["prev_hash"]) == (1, first["hash"])
    assert verify_chain(read_journal(path)) == []


def test_a_new_journal_takes_the_stream_name_it_is_given(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", stream="agent-1-host-42") as journal:
        assert journal.append("step")["stream"] == "agent-1-host-42"
    with JournalWriter(path, "agent-1", stream="agent-1-host-42") as journal:
        assert journal.append("step")["seq"] == 1
    with pytest.raises(ValueError, match="holds stream agent-1-host-42"):
        JournalWriter(path, "agent-1", stream="another")
    with pytest.raises(InvalidEvent):
        JournalWriter(tmp_path / "b.jsonl", "agent-1", stream="no/slash")
