"""Subject requests end to end: a real Celery worker builds the access export (PDF, JSON, CSV);
after an erasure, verify_streams, the portal's stream page, an evidence bundle verified
offline and the journal cross-check all read "erased under R"; a sidecar then deleted in
psql without a request is tampering, located by each of them."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest

from agents_sdk.offline.bundle import verify_bundle
from obsportal.accounts.services import issue_api_token
from obsportal.compliance.models import SubjectRequest
from obsportal.compliance.subjects import requests
from obsportal.ingest.subjects import reset_key_cache
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.evidence import plan_bundle, write_bundle
from obsportal.integrity.models import StreamVerification
from obsportal.integrity.signing import load_signing_key
from obsportal.integrity.verification import verify_streams
from tests.e2e.conftest import ROOT, worker_env
from tests.factories import with_role
from tests.support.celery_worker import worker_argv
from tests.support.chains import admit_journal, superuser_sql


@pytest.fixture
def subjects_worker(transactional_db, signing_key, tmp_path, settings, monkeypatch):
    """A worker on the exports queue, with this test's keys and directories."""
    from django.db import connection

    settings.OBSPORTAL_EXPORT_DIR = tmp_path / "exports"
    settings.OBSPORTAL_SUBJECT_KEY_FILE = tmp_path / "keys" / "subject-key"
    monkeypatch.delenv("OBSPORTAL_SUBJECT_KEY", raising=False)
    reset_key_cache()
    env = worker_env(
        connection.settings_dict["NAME"],
        OBSPORTAL_SIGNING_KEY_FILE=str(settings.OBSPORTAL_SIGNING_KEY_FILE),
        OBSPORTAL_CHECKPOINT_DIR=str(settings.OBSPORTAL_CHECKPOINT_DIR),
        OBSPORTAL_EXPORT_DIR=str(settings.OBSPORTAL_EXPORT_DIR),
        OBSPORTAL_SUBJECT_KEY_FILE=str(settings.OBSPORTAL_SUBJECT_KEY_FILE),
    )
    log = tmp_path / "subjects-worker.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            worker_argv(1, "subjects", queues="exports"),
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield log
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reset_key_cache()


def _bundle(agent: str) -> tuple[bool, str, list[str]]:
    sign_checkpoint()
    out = io.BytesIO()
    write_bundle(plan_bundle(agent, None, None), out)
    report = verify_bundle(out.getvalue().splitlines(), [load_signing_key().verifier_key])
    return report.ok, report.verdict(), report.problems


def _crosscheck(journal, url: str, token: str) -> subprocess.CompletedProcess:
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


def test_export_by_the_worker_then_erasure_read_everywhere_as_erased_under_r(
    subjects_worker, agent_token, tmp_path, live_server, django_user_model, client
):
    agent, token = agent_token
    grace = admit_journal(
        tmp_path,
        token,
        agent,
        "grace.jsonl",
        5,
        user_id="grace",
        personal_data={"email": "grace@example.org"},
    )
    admit_journal(
        tmp_path,
        token,
        agent,
        "heidi.jsonl",
        4,
        user_id="heidi",
        personal_data={"email": "heidi@example.org"},
    )
    officer = with_role(django_user_model.objects.create_user("olga", password="pw-olga-12345"))
    client.force_login(officer)

    # access: recorded, queued, built by the worker
    access = requests.create_request(kind="access", identifier="grace, grace@example.org")
    assert client.post(f"/subjects/{access.pk}/", {"action": "export"}).status_code == 302
    deadline = time.monotonic() + 120
    while (access := SubjectRequest.objects.get(pk=access.pk)).status != "completed":
        assert access.status != "failed", access.error
        assert time.monotonic() < deadline, subjects_worker.read_text()[-3000:]
        time.sleep(0.3)
    assert access.outcome["events"] == 5 and set(access.files) == {"json", "csv", "pdf"}
    assert "build_subject_export" in subjects_worker.read_text()

    # erasure
    erasure = requests.create_request(
        kind="erasure", identifier="grace, grace@example.org", legal_ground="Art. 17(1)(a)"
    )
    assert client.post(f"/subjects/{erasure.pk}/", {"action": "erase"}).status_code == 302
    erasure.refresh_from_db()
    assert erasure.outcome["counts"]["fields_erased"] == 5
    ref, stream = erasure.reference, grace[0]["stream"]

    sign_checkpoint()
    run = verify_streams()
    result = StreamVerification.objects.get(run=run, stream_id=stream)
    assert result.status == "verified" and {e["reference"] for e in result.erased} == {ref}
    page = client.get(f"/streams/{stream}/").content.decode()
    assert f"email erased under request {ref}" in page
    ok, verdict, problems = _bundle(agent)
    assert ok, problems
    assert f"5 personal-data field(s) erased under request(s) {ref}" in verdict
    api_token = issue_api_token(officer)
    agrees = _crosscheck(tmp_path / "grace.jsonl", live_server.url, api_token)
    assert agrees.returncode == 0, agrees.stdout + agrees.stderr
    assert f"personal data erased under request {ref}: seq 0..4" in agrees.stdout

    # a sidecar deleted in psql, without a request
    heidi = "heidi@example.org"
    superuser_sql(
        (
            "DELETE FROM ingest_personaldatum WHERE value = %s::jsonb AND id = "
            "(SELECT min(id) FROM ingest_personaldatum WHERE value = %s::jsonb)",
            (f'"{heidi}"', f'"{heidi}"'),
        )
    )
    run = verify_streams()
    broken = [r for r in StreamVerification.objects.filter(run=run) if r.status == "broken"]
    assert len(broken) == 1 and broken[0].first_break["seq"] == 0
    assert "no erasure request names it" in broken[0].first_break["reason"]
    ok, verdict, problems = _bundle(agent)
    assert not ok
    assert problems == [
        f"stream {broken[0].stream_id} seq 0: personal-data field 'email' is gone and no signed "
        "erasure receipt names it: deleted without a request (tampering)"
    ]
    differs = _crosscheck(tmp_path / "heidi.jsonl", live_server.url, api_token)
    assert differs.returncode == 1, differs.stdout + differs.stderr
    assert "seq 0: personal-data field 'email' is in the journal but gone from the server" in (
        differs.stdout
    )
