"""The README's first example, run as printed against a demo portal (embedded, HTTP ingest)."""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.embedded import embedded_env
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEMO_URL = "http://127.0.0.1:8000"
SECTION = "## Your first agent, against the demo"


def first_example() -> tuple[str, str]:
    """The section's shell block and Python block, exactly as the README prints them."""
    text = README.read_text()
    section = text[text.index(SECTION) :].split("\n## ", 1)[0]
    shell = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return shell, python


def run(env: dict[str, str], *args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{shlex.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def demo_portal(migrated_var_dir):
    """`make demo`'s two steps in an embedded var dir, then its server on a free port."""
    env = embedded_env(migrated_var_dir)
    run(env, sys.executable, "manage.py", "demo", "--steps", "3")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        yield env, base, migrated_var_dir / "obsportal.sqlite3"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_readme_first_example_ships_an_event_the_demo_portal_stores(demo_portal, tmp_path):
    env, base, database = demo_portal
    shell, python = first_example()
    issue = next(line for line in shell.splitlines() if "issue_agent_token" in line)
    command = shlex.split(issue.split("#", 1)[0])
    assert command[:2] == [".venv/bin/python", "manage.py"], issue
    token = run(env, sys.executable, *command[1:]).strip()
    assert token.startswith("agt_")

    # The one change from the README: the free port this test's demo server listens on.
    assert DEMO_URL in python
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    (agent_dir / "first_agent.py").write_text(python.replace(DEMO_URL, base))
    agent_env = {**env, "AGENTS_SDK_INGEST_TOKEN": token}
    # As printed means without a deprecated keyword too: a warning would be an error here.
    out = run(agent_env, sys.executable, "-W", "error", "first_agent.py", cwd=agent_dir)
    assert out.strip() == "shipped: True"

    rows = sqlite3.connect(database).execute(
        "SELECT action, result, user_id, resource FROM ingest_auditevent "
        "WHERE agent_id = 'my-first-agent'"
    )
    assert rows.fetchall() == [("tool_execute", "success", "alice@example.com", "crm://tickets")]

    # What the README says next: the journal verifies, and agrees with the portal's copy
    # when compared with a portal user's API token.
    cli = str(Path(sys.executable).with_name("agents-sdk"))
    journal = agent_dir / "my-first-agent.jsonl"
    assert run(env, cli, "verify", str(journal)).splitlines()[-1] == "result: OK"
    api_token = run(env, sys.executable, "manage.py", "issue_api_token", "officer").strip()
    compared = run(env, cli, "verify", str(journal), "--against", base, "--token", api_token)
    assert "agrees (journal 1 events, server 1)" in compared
