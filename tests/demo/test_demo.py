"""The README's first command: embedded SQLite, tasks in process, SDK shipping, the portal."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

from tests.independent_chain import read_journal, verify_chain
from tests.support.embedded import ROOT, embedded_env, manage
from tests.support.services import free_port


def test_demo_setup_ships_the_scripted_agents_events_and_the_portal_shows_them(tmp_path):
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--verbosity", "0")  # on an empty dir, as `make demo` does
    out = manage(env, "demo", "--steps", "12")

    recorded = int(re.search(r"Recorded (\d+) audit events in (\S+)", out).group(1))
    journal = Path(re.search(r"Recorded \d+ audit events in (\S+)", out).group(1))
    assert f"Shipped and stored {recorded} events (all shipped: True)" in out
    # The agent's stream and the portal's own trail (the demo's logins and credential).
    verified = re.search(
        r"Signed checkpoint \d+; verification of 2 stream\(s\), (\d+) events: verified", out
    )
    assert verified and int(verified.group(1)) > recorded
    # Its own trail journal is the demo's, live; nothing was left for recovery.
    assert re.search(
        r"The portal's own trail, 1 trail journal: 1 being written by a live process, "
        r"0 complete in the database, 0 recovered \(0 events stored\), 0 failed",
        out,
    ), out
    for username, role in [("admin", "administrator"), ("auditor", "auditor")]:
        assert re.search(rf"Log in as '{username}' with password '\S+' \({role}\)", out)
    password = re.search(r"Log in as 'officer' with password '([^']+)'", out).group(1)
    assert verify_chain(read_journal(journal)) == []

    database = sqlite3.connect(tmp_path / "obsportal.sqlite3")
    stored = {
        row[0]
        for row in database.execute(
            "SELECT hash FROM ingest_auditevent WHERE agent_id = ?", ("demo-support-agent",)
        )
    }
    assert stored == {e["hash"] for e in read_journal(journal)}

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        for _ in range(600):  # runserver starts slowly on a loaded machine
            try:
                login_page = opener.open(f"{base}/accounts/login/").read().decode()
                break
            except OSError:
                time.sleep(0.1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urlencode(
            {"username": "officer", "password": password, "csrfmiddlewaretoken": token, "next": "/"}
        ).encode()
        request = urllib.request.Request(
            f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}
        )
        page = opener.open(request).read().decode()
        assert "Overview" in page
        events = opener.open(f"{base}/events/?page_size=100").read().decode()
        assert events.count("<tr data-event-id=") == min(recorded, 100)
        # Every page of the officer's menu opens on the embedded SQLite, as on PostgreSQL
        # (the streams list once answered 500 here: its SQL was PostgreSQL's alone).
        menu = re.search(r'<nav aria-label="Portal">(.*?)</nav>', page, re.S).group(1)
        paths = re.findall(r'<a href="(/[^"]*)"', menu)
        assert {"/streams/", "/incidents/", "/retention/", "/subjects/", "/reports/"} <= set(paths)
        for path in paths:
            with opener.open(f"{base}{path}") as response:
                assert response.status == 200, path
    finally:
        server.terminate()
        server.wait(timeout=10)
