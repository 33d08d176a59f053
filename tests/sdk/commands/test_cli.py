"""The agents-sdk command line, run as a user would: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents_sdk import JournalWriter
from agents_sdk.audit.segments import list_segments

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "agents_sdk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", fsync="always", rotate_bytes=4_000) as writer:
        for i in range(40):
            writer.append(
                ("tool_execute", "llm_call")[i % 2],
                "denied" if i % 10 == 3 else "success",
                user_id=f"user-{i % 4}",
                details={"i": i},
            )
    assert len(list_segments(path)) >= 2
    return path


@pytest.mark.parametrize(
    "command", [[], ["verify"], ["query"], ["tail"], ["ship"], ["verify-bundle"], ["crosscheck"]]
)
def test_every_command_has_help(command):
    proc = cli(*command, "--help")
    assert proc.returncode == 0
    assert "usage: agents-sdk" in proc.stdout
    if not command:
        for name in ("verify", "query", "tail", "ship", "verify-bundle", "crosscheck"):
            assert f"    {name}" in proc.stdout


def test_verify_against_an_unreachable_portal_is_exit_2(journal):
    proc = cli("verify", str(journal), "--against", "http://127.0.0.1:9", "--token", "t")
    assert proc.returncode == 2
    assert "cannot read the server's copy" in proc.stderr


def test_verify_a_whole_rotated_journal(journal):
    proc = cli("verify", str(journal))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK, seq 0..39" in proc.stdout
    assert "rotated segment" in proc.stdout
    assert proc.stdout.strip().endswith("result: OK")


def test_verify_reports_the_first_broken_link_and_exits_1(journal):
    segment = list_segments(journal)[1].path
    lines = segment.read_bytes().splitlines(keepends=True)
    event = json.loads(lines[2])
    lines[2] = lines[2].replace(b'"result":"success"', b'"result":"failure"')
    segment.write_bytes(b"".join(lines))
    proc = cli("verify", str(journal))
    assert proc.returncode == 1
    assert f"BROKEN; verified seq 0..{event['seq'] - 1}" in proc.stdout
    assert f"first broken link: seq {event['seq']} (event {event['event_id']})" in proc.stdout
    assert f"{segment.name} line 3: hash does not match" in proc.stdout
    report = json.loads(cli("verify", "--json", str(journal)).stdout)
    assert report["ok"] is False
    assert report["streams"][0]["broken"]["seq"] == event["seq"]


def test_verify_reports_a_torn_tail_without_failing(journal):
    with open(journal, "ab") as handle:
        handle.write(b'{"v":1,"event_id":"to')
    proc = cli("verify", str(journal))
    assert proc.returncode == 0
    assert "torn tail: 21 byte(s)" in proc.stdout


def test_verify_a_missing_journal_is_a_usage_error(tmp_path):
    proc = cli("verify", str(tmp_path / "none.jsonl"))
    assert proc.returncode == 2
    assert "no journal at" in proc.stderr


def test_verify_shows_progress_on_request(journal):
    proc = cli("verify", "--progress", str(journal))
    assert proc.returncode == 0
    assert "verifying: 100.0%" in proc.stderr


def test_query_filters_and_prints_json_lines(journal):
    proc = cli("query", str(journal), "--result", "denied", "--user", "user-3")
    assert proc.returncode == 0
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["seq"] for e in events] == [3, 23]
    assert {(e["result"], e["user_id"]) for e in events} == {("denied", "user-3")}
    count = cli("query", str(journal), "--action", "llm_call", "--count")
    assert count.stdout.strip() == "20"
    limited = cli("query", str(journal), "--limit", "5")
    assert len(limited.stdout.splitlines()) == 5


def test_query_says_0_matches_and_can_match_users_loosely(journal):
    none = cli("query", str(journal), "--user", "USER-3")
    assert none.returncode == 0 and none.stdout == ""
    assert none.stderr.startswith("0 matches (user ids compare exactly")
    loose = cli("query", str(journal), "--user", "USER-3", "--user-match", "ignore-case", "--count")
    assert loose.stdout.strip() == "10"
    prefix = cli("query", str(journal), "--user", "User-", "--user-match", "prefix", "--count")
    assert prefix.stdout.strip() == "40"
    assert "--user-match" in cli("query", "--help").stdout
    verify_help = cli("verify", "--help").stdout
    assert "issue_api_token" in verify_help and "AGENTS_SDK_API_TOKEN" in verify_help
    assert "compare exactly, case included" in cli("query", "--help").stdout


def test_query_time_range(journal):
    lines = cli("query", str(journal)).stdout.splitlines()
    middle = json.loads(lines[20])["ts"]
    proc = cli("query", str(journal), "--since", middle, "--count")
    assert int(proc.stdout) == sum(1 for line in lines if json.loads(line)["ts"] >= middle)
    bad = cli("query", str(journal), "--since", "last tuesday")
    assert bad.returncode == 2
    assert "not an ISO 8601 time" in bad.stderr


def test_tail_prints_the_last_matching_events(journal):
    proc = cli("tail", str(journal), "-n", "3", "--action", "tool_execute")
    assert [json.loads(line)["seq"] for line in proc.stdout.splitlines()] == [34, 36, 38]


def test_tail_follow_prints_new_events_as_they_are_recorded(tmp_path):
    path = tmp_path / "agent.jsonl"
    writer = JournalWriter(path, "agent-1", fsync="always", rotate_bytes=3_000)
    writer.append("old")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agents_sdk",
            "tail",
            "-f",
            "-n",
            "1",
            "--interval",
            "0.05",
            str(path),
        ],
        stdout=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert json.loads(proc.stdout.readline())["action"] == "old"
        for i in range(20):
            writer.append("new", details={"i": i})
        seen = [json.loads(proc.stdout.readline())["details"]["i"] for _ in range(20)]
        assert seen == list(range(20))
        assert len(list_segments(path)) >= 2  # it followed across rotations
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        writer.close()


def test_ship_refuses_a_journal_that_a_writer_holds(journal):
    with JournalWriter(journal, "agent-1"):
        proc = cli("ship", str(journal), "--url", "http://127.0.0.1:9", "--token", "t")
    assert proc.returncode == 2
    assert "is open for writing" in proc.stderr


def test_ship_to_an_unreachable_portal_exits_1_and_keeps_the_cursor(journal):
    started = time.monotonic()
    proc = cli("ship", str(journal), "--url", "http://127.0.0.1:9", "--token", "t", "-q")
    assert proc.returncode == 1
    assert "not everything was shipped" in proc.stderr
    assert "Connection refused" in proc.stderr or "ConnectionRefused" in proc.stderr
    assert "40 left" in proc.stdout
    assert time.monotonic() - started < 30
