"""`crosscheck`: a local journal against the portal's copy, over the real HTTP API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from obsportal.accounts.services import issue_api_token
from obsportal.ingest.services import admit_batch
from tests.factories import journal_events, with_role
from tests.support.chains import superuser_sql

ROOT = Path(__file__).resolve().parents[3]


def run_crosscheck(journal: Path, url: str, token: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "agents_sdk.offline",
            "crosscheck",
            str(journal),
            "--against",
            url,
            "--token",
            token,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def write_journal(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_crosscheck_reports_missing_extra_and_different_events(
    live_server, agent_token, tmp_path, django_user_model
):
    agent, ingest_token = agent_token
    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    api_token = issue_api_token(user)
    events = journal_events(tmp_path, agent, count=6)
    assert admit_batch({"token": ingest_token, "events": events[:5]}).admitted == 5

    agrees = run_crosscheck(
        write_journal(tmp_path / "same.jsonl", events[:5]), live_server.url, api_token
    )
    assert agrees.returncode == 0, agrees.stdout + agrees.stderr
    assert "agrees (journal 5 events, server 5)" in agrees.stdout

    stream = events[0]["stream"]
    superuser_sql(
        (
            "UPDATE ingest_auditevent SET result = 'denied', canonical = "
            '(canonical::jsonb || \'{"result": "denied"}\')::text'
            " WHERE stream_id = %s AND seq = 2",
            (stream,),
        )
    )
    local = write_journal(tmp_path / "local.jsonl", [*events[:4], events[5]])
    done = run_crosscheck(local, live_server.url, api_token)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"stream {stream}: DIFFERS (journal 5 events, server 5)" in done.stdout
    assert "not on the server, not shipped yet: seq 5" in done.stdout
    assert "on the server but not in the journal: seq 4" in done.stdout
    assert (
        f"seq 2: same hash {events[2]['hash'][:12]}…, but the server's content differs in "
        "result: its copy was altered and no longer matches its hash"
    ) in done.stdout


def test_crosscheck_tells_acknowledged_and_lost_from_not_yet_shipped(
    live_server, agent_token, tmp_path, django_user_model
):
    agent, ingest_token = agent_token
    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    api_token = issue_api_token(user)
    events = journal_events(tmp_path, agent, count=6)
    assert admit_batch({"token": ingest_token, "events": events[:5]}).admitted == 5
    stream = events[0]["stream"]
    superuser_sql(("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 3", (stream,)))
    local = write_journal(tmp_path / "local.jsonl", events)
    # The shipper's cursor: the portal acknowledged up to seq 4.
    (tmp_path / "local.jsonl.shipped").write_bytes(orjson.dumps({"base": 0, "offset": 0, "seq": 4}))
    done = run_crosscheck(local, live_server.url, api_token)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "acknowledged by the portal but gone from it (deleted or lost on the server): seq 3"
        in done.stdout
    )
    assert "not on the server, not shipped yet (acknowledged up to seq 4): seq 5" in done.stdout


def test_a_stream_deleted_on_the_server_is_reported_missing_not_an_http_error(
    live_server, agent_token, tmp_path, django_user_model
):
    agent, ingest_token = agent_token
    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    api_token = issue_api_token(user)
    events = journal_events(tmp_path, agent, count=3)
    assert admit_batch({"token": ingest_token, "events": events}).admitted == 3
    stream = events[0]["stream"]
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s", (stream,)),
        ("DELETE FROM ingest_stream WHERE id = %s", (stream,)),
    )
    done = run_crosscheck(write_journal(tmp_path / "j.jsonl", events), live_server.url, api_token)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"stream {stream}: MISSING on the server: the portal holds no event of this stream "
        "(journal 3 events, server 0)"
    ) in done.stdout


def test_crosscheck_with_a_bad_token_says_so(live_server, tmp_path):
    journal = write_journal(tmp_path / "j.jsonl", journal_events(tmp_path, "agent-1", count=1))
    done = run_crosscheck(journal, live_server.url, "not-a-token")
    assert done.returncode == 2 and "HTTP 401" in done.stderr


def test_crosscheck_holds_the_portals_signed_head_to_the_journals_own_key(
    live_server, agent_token, tmp_path, django_user_model
):
    from agents_sdk.audit.head_signing import HeadSigner, load_key
    from tests.support.chains import signed_head

    agent, ingest_token = agent_token
    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    api_token = issue_api_token(user)
    events = journal_events(tmp_path, agent, count=4)
    journal = tmp_path / "agent.jsonl"
    head = signed_head(journal, events[-1])
    assert admit_batch({"token": ingest_token, "events": events, "heads": [head]}).admitted == 4

    agrees = run_crosscheck(journal, live_server.url, api_token)
    assert agrees.returncode == 0, agrees.stdout + agrees.stderr
    fingerprint = load_key(journal).fingerprint
    assert f"agent-signed head on the portal: seq 3, this journal's key {fingerprint}" in (
        agrees.stdout
    )

    forger = HeadSigner.from_seed(b"\x06" * 32)
    forged = forger.sign(agent, events[0]["stream"], 3, events[-1]["hash"])
    superuser_sql(
        (
            "UPDATE ingest_signedstreamhead SET public_key = %s, signature = %s"
            " WHERE stream_id = %s",
            (forged.public_key.hex(), forged.signature.hex(), events[0]["stream"]),
        )
    )
    differs = run_crosscheck(journal, live_server.url, api_token)
    assert differs.returncode == 1, differs.stdout
    assert f"is signed with key {forger.fingerprint}, not this journal's key {fingerprint}" in (
        differs.stdout
    )
