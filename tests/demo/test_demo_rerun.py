"""`make demo` again, and served: one stream, one token, verified on a schedule, static files."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from agents_sdk import AuditConfig, HttpTransport, Observability
from tests.support.embedded import ROOT, copy_migrated, embedded_env, manage
from tests.support.services import free_port


def rows(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


def test_the_demo_run_twice_gives_one_stream_and_one_token_and_says_so(migrated_var_dir):
    env = embedded_env(migrated_var_dir)
    first = manage(env, "demo", "--steps", "4")
    second = manage(env, "demo", "--steps", "4")

    database = migrated_var_dir / "obsportal.sqlite3"
    # The demo agent's streams (the portal's own trail, agent `obsportal`, is another).
    streams = rows(
        database, "SELECT id, head_seq FROM ingest_stream WHERE agent_id = 'demo-support-agent'"
    )
    assert len(streams) == 1
    stream, head = streams[0]
    recorded = int(re.search(r"Recorded (\d+) audit events", first).group(1))
    assert head == recorded - 1
    stored = "SELECT count(*) FROM ingest_auditevent WHERE agent_id = 'demo-support-agent'"
    assert rows(database, stored) == [(recorded,)]
    assert rows(database, "SELECT agent_id FROM accounts_agentcredential") == [
        ("demo-support-agent",)
    ]

    assert "Recorded" not in second
    assert (
        f"Reusing the demo agent 'demo-support-agent' and its stream {stream} "
        f"({recorded} events stored, all shipped: True)" in second
    )
    assert "Reusing its ingest token" in second
    assert re.search(r"verification of 2 stream\(s\), \d+ events: verified", second)
    for out in (first, second):  # what a newcomer reads: no task results, no progress noise
        assert "succeeded in" not in out
        assert "{'status'" not in out
        assert "Log in as 'officer' with password 'officer-demo'" in out


def get(url: str, token: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


@pytest.fixture(scope="module")
def served_demo(_migrated_embedded_template, tmp_path_factory):
    """One served demo for this module's tests (it takes a while to start)."""
    tmp_path = tmp_path_factory.mktemp("served-demo")
    env = embedded_env(copy_migrated(_migrated_embedded_template, tmp_path))
    port = free_port()
    log = (tmp_path / "demo.log").open("w")
    command = ["demo", "--steps", "2", "--serve", f"127.0.0.1:{port}", "--schedule", "1"]
    server = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail((tmp_path / "demo.log").read_text())
                time.sleep(0.1)
        yield env, base
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def test_the_served_demo_verifies_a_new_agents_stream_on_its_schedule(served_demo, tmp_path):
    env, base = served_demo
    token = manage(env, "issue_agent_token", "late-agent").strip()
    api_token = manage(env, "issue_api_token", "officer").strip().splitlines()[-1]
    obs = Observability(
        "late-agent",
        audit=AuditConfig(tmp_path / "late.jsonl", transport=HttpTransport(base, token)),
    )
    obs.record_audit("tool_execute", "success", user_id="alice@example.com")
    stream = obs.journal.stream
    assert obs.shutdown(timeout=10)

    deadline = time.monotonic() + 30
    while True:
        _, _, body = get(f"{base}/api/v1/streams/{stream}/", api_token)
        verification = json.loads(body)["last_verification"]
        if verification is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert verification is not None, "the new stream stayed 'not yet verified'"
    assert verification["status"] == "verified"
    _, _, body = get(f"{base}/api/v1/checkpoints/", api_token)
    assert len(json.loads(body)["results"]) >= 2  # the demo's own, then the schedule's


def test_the_served_demo_serves_its_static_files(served_demo):
    _, base = served_demo
    status, content_type, body = get(f"{base}/static/admin/css/base.css")
    assert status == 200
    assert content_type.startswith("text/css")
    assert b"body" in body
