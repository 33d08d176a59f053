"""The trail is also an SDK journal on disk: `agents-sdk verify` checks it offline,
`agents-sdk verify --against` crosschecks it with the database, and a journal whose
disk refuses to be written refuses the request (fail closed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from django.test import Client

from obsportal.accounts.services import issue_api_token
from obsportal.ingest.models import AuditEvent
from obsportal.integrity.verification import verify_streams
from obsportal.trail.services import reset_process_trail
from tests.support.people import person

ROOT = Path(__file__).resolve().parents[2]
TRAIL = "obsportal"


def agents_sdk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agents_sdk", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def journals(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)


def lines(journal: Path) -> list[dict]:
    return [orjson.loads(line) for line in journal.read_bytes().splitlines()]


def test_an_auditors_reads_are_in_a_journal_that_verifies_offline_and_matches_the_database(
    live_server, two_agents, django_user_model, trail_journal
):
    auditor = Client()
    auditor.force_login(person(django_user_model, "eve-auditor", "auditor"))
    event = two_agents["agent-a"][0]
    assert auditor.get(f"/api/v1/events/{event['event_id']}/").status_code == 200
    assert auditor.get("/api/v1/events/?user_id=alice").status_code == 200
    bundle = auditor.get("/api/v1/evidence/?agent_id=agent-a")
    b"".join(bundle.streaming_content)
    reset_process_trail()  # this stream is done; what follows is on another one

    [journal] = journals(trail_journal)
    written = lines(journal)
    assert [e["action"] for e in written if e["user_id"] == "eve-auditor"] == [
        "auth.login",
        "event.open",
        "events.search",
        "evidence.download",
    ]
    # The searched user id is in the journal's sidecar, only its commitment in the body.
    searched = next(e for e in written if e["action"] == "events.search")
    assert searched["pii"]["filters.user_id"]["value"] == "alice"
    verified = agents_sdk("verify", str(journal))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    officer = person(django_user_model, "olga-officer", "compliance_officer")
    checked = agents_sdk(
        "verify", str(journal), "--against", live_server.url, "--token", issue_api_token(officer)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"stream {written[0]['stream']}: agrees (journal {len(written)} events" in checked.stdout
    stored = AuditEvent.objects.filter(stream_id=written[0]["stream"]).order_by("seq")
    assert [e.hash for e in stored] == [e["hash"] for e in written]
    assert verify_streams().status == "verified"


def _immutable(path: Path, on: bool) -> None:
    done = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr is not available here: {done.stderr.decode().strip()}")


@pytest.mark.django_db(transaction=True)
def test_a_request_is_refused_when_the_journals_disk_cannot_be_written(
    two_agents, django_user_model, trail_journal
):
    client = Client()
    client.force_login(person(django_user_model, "ro-auditor", "auditor"))
    assert client.get("/api/v1/streams/").status_code == 200
    [journal] = journals(trail_journal)
    # Even root cannot write an immutable file, nor create one in an immutable directory.
    _immutable(journal, True)
    _immutable(trail_journal, True)
    try:
        refused = client.get("/api/v1/streams/")
        assert refused.status_code == 503
        assert "could not be written to the portal's audit trail" in refused.json()["detail"]
        assert "agent-a" not in refused.content.decode()
        again = client.get("/api/v1/streams/")  # a new journal cannot be opened either
        assert again.status_code == 503
    finally:
        _immutable(trail_journal, False)
        _immutable(journal, False)
    assert client.get("/api/v1/streams/").status_code == 200
    # The journal that failed holds a whole chain (no torn line) and verifies; the next
    # request went on in a new one.
    assert agents_sdk("verify", str(journal)).returncode == 0
    left, new = journals(trail_journal)
    assert lines(new)[0]["seq"] == 0 and lines(new)[0]["stream"] != lines(left)[0]["stream"]
    assert verify_streams().status == "verified"


def test_a_trail_stream_named_alone_stays_out_of_reach_of_who_may_not_read_the_trail(
    two_agents, clients, agent_token
):
    from obsportal.trail.services import record_trail

    stream = record_trail("page.view", actor="someone")["stream"]
    url = f"/api/v1/events/?stream={stream}"
    assert len(clients["auditor"].get(url).json()["results"]) >= 1  # trail.read, no scope
    # A scoped auditor's scope does not name the portal; no role, no read at all.
    assert clients["scoped_auditor"].get(url).json()["results"] == []
    assert clients["none"].get(url).status_code == 403
    assert Client().get(url).status_code in (401, 403)
    _agent, token = agent_token  # a stolen ingest token reads nothing
    for scheme in ("Token", "Bearer"):
        stolen = Client(HTTP_AUTHORIZATION=f"{scheme} {token}").get(url)
        assert stolen.status_code in (401, 403)


def test_an_agent_cannot_start_a_stream_named_like_the_portals_trail(agent_token, tmp_path):
    from agents_sdk.audit.journal import JournalWriter
    from obsportal.ingest.services import admit_batch

    agent, token = agent_token
    squatter = "obsportal-trail-web1-4242-1a2b3c4d"  # a name a portal process could take
    with JournalWriter(tmp_path / "squat.jsonl", agent, stream=squatter) as journal:
        events = [journal.append("step") for _ in range(2)]
    verdict = admit_batch({"token": token, "events": events})
    assert (verdict.status, verdict.admitted) == ("rejected", 0)
    assert "is the portal's own trail" in verdict.reason
    assert not AuditEvent.objects.filter(stream_id=squatter).exists()
