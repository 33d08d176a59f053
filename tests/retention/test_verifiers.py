"""After a run, every verifier (verify_streams, the stream page, the offline bundle verifier
and the journal cross-check) reports "pruned 0..N by policy P on D" and stays verified; one
more row deleted without an anchor is tampering, located."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from obsportal.accounts.services import issue_api_token
from obsportal.ingest.models import AuditEvent
from obsportal.integrity.signing import load_signing_key
from obsportal.integrity.verification import verify_streams
from obsportal.retention.services import legal_holds, runs
from tests.retention.helpers import active_policy, approved_plan, officers
from tests.sdk.offline.test_crosscheck import run_crosscheck, write_journal
from tests.sdk.offline.test_evidence_bundle import fetch_bundle, last_line, verify_offline
from tests.support.chains import superuser_sql


@pytest.fixture
def pruned(two_chains):
    """Stream a pruned 0..4 (a hold keeps 5.. of it), stream b held whole."""
    alice, bob = officers()
    policy = active_policy(alice, bob, name="P", agent_pattern="agent-7")
    stream_a, stream_b = two_chains["a"][0]["stream"], two_chains["b"][0]["stream"]
    fifth = AuditEvent.objects.get(stream_id=stream_a, seq=5).ts
    legal_holds.place_legal_hold(alice, name="case", reason="r", streams=[stream_a], ts_from=fifth)
    legal_holds.place_legal_hold(alice, name="case b", reason="r", streams=[stream_b])
    outcome = runs.run_plan(approved_plan(alice, bob), chunk_size=2)
    assert outcome.pruned == 5
    date = outcome.run.finished_at.date().isoformat()
    return {**two_chains, "stream": stream_a, "policy": policy, "date": date, "alice": alice}


def test_verify_streams_and_the_stream_page_report_the_pruned_range(pruned, client, capsys):
    call_command("verify_streams")
    out = capsys.readouterr().out
    result = verify_streams().streams.get(stream_id=pruned["stream"])
    assert result.status == "verified"
    assert (result.verified_from, result.verified_to) == (5, 9)
    assert [(p["from"], p["to"], p["policy"]) for p in result.pruned] == [(0, 4, "P")]
    assert pruned["stream"] in out
    client.force_login(pruned["alice"])
    page = client.get(f"/streams/{pruned['stream']}/").content.decode()
    assert f"pruned 0..4 by policy P on {pruned['date']}" in page


def test_an_offline_bundle_of_a_pruned_stream_verifies_and_says_so(
    pruned, api_client, tmp_path, offline_site
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path), "--key", load_signing_key().verifier_key)
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = last_line(done)
    assert verdict.startswith("VERIFIED: all 15 events of agent agent-7")
    assert f"stream {pruned['stream']}: pruned 0..4 by policy P on {pruned['date']}" in verdict


def test_the_journal_crosscheck_agrees_and_names_the_pruned_range(pruned, live_server, tmp_path):
    token = issue_api_token(pruned["alice"])
    journal = write_journal(tmp_path / "a.jsonl", pruned["a"])
    done = run_crosscheck(journal, live_server.url, token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"pruned 0..4 by policy P on {pruned['date']}" in done.stdout
    assert "agrees (journal 10 events, server 5)" in done.stdout

    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 5", (pruned["stream"],))
    )
    done = run_crosscheck(journal, live_server.url, token)
    assert done.returncode == 1, done.stdout
    assert "seq 5" in done.stdout and "DIFFERS" in done.stdout


def test_one_more_row_deleted_fails_the_offline_bundle_located(
    pruned, api_client, tmp_path, offline_site
):
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 5", (pruned["stream"],))
    )
    result = verify_streams().streams.get(stream_id=pruned["stream"])
    assert result.status == "broken" and result.gaps == [[5, 5]]
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path), "--key", load_signing_key().verifier_key)
    assert done.returncode != 0
    assert f"stream {pruned['stream']}" in done.stdout and "FAILED" in last_line(done)
