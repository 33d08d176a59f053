"""An evidence export is a job: requested over the API, built by a real Celery worker into a
file with progress, downloaded by its link and verified offline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings

from obsportal.integrity.models import EvidenceExport
from tests.e2e.conftest import ROOT, worker_env
from tests.support.celery_worker import worker_argv
from tests.support.chains import admit_journal


@pytest.fixture
def exports_worker(transactional_db, signing_key, tmp_path, settings):
    """A worker on the exports queue only, with this test's key and directories."""
    from django.db import connection

    settings.OBSPORTAL_EXPORT_DIR = tmp_path / "exports"
    env = worker_env(
        connection.settings_dict["NAME"],
        OBSPORTAL_SIGNING_KEY_FILE=str(settings.OBSPORTAL_SIGNING_KEY_FILE),
        OBSPORTAL_CHECKPOINT_DIR=str(settings.OBSPORTAL_CHECKPOINT_DIR),
        OBSPORTAL_EXPORT_DIR=str(settings.OBSPORTAL_EXPORT_DIR),
    )
    log = tmp_path / "exports-worker.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            worker_argv(1, "exports", queues="exports"),
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


def test_an_export_is_built_by_the_worker_and_downloads_a_verifying_bundle(
    exports_worker, agent_token, tmp_path, api_client
):
    from obsportal.integrity.signing import load_signing_key

    agent, token = agent_token
    admit_journal(tmp_path, token, agent, "x.jsonl", 30)
    requested = api_client.post("/api/v1/evidence/exports/", {"agent_id": agent}, format="json")
    assert requested.status_code == 202, requested.content
    job = requested.json()
    assert job["status"] == "queued" and job["download_url"] is None
    assert requested["Location"] == job["url"]
    deadline = time.monotonic() + 90
    while (job := api_client.get(job["url"]).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, exports_worker.read_text()[-3000:]
        time.sleep(0.2)
    assert job["status"] == "done", job
    assert (job["events_total"], job["events_written"], job["percent"]) == (30, 30, 100.0)
    # The worker signed a checkpoint of its own: none covered the stream yet.
    download = api_client.get(job["download_url"])
    assert download.status_code == 200
    bundle = tmp_path / "export.jsonl"
    bundle.write_bytes(b"".join(download.streaming_content))
    assert bundle.stat().st_size == job["size_bytes"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents_sdk.offline",
            "verify-bundle",
            str(bundle),
            "--key",
            load_signing_key().verifier_key,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED: all 30 events of agent agent-7" in done.stdout
    assert EvidenceExport.objects.get().file_name == f"evidence-{job['id']:08d}.jsonl"
    assert (settings.OBSPORTAL_EXPORT_DIR / EvidenceExport.objects.get().file_name).exists()


def test_a_refused_export_says_why_at_once(transactional_db, signing_key, agent_token, api_client):
    refused = api_client.post("/api/v1/evidence/exports/", {"agent_id": "nobody"}, format="json")
    assert refused.status_code == 404  # nothing to bundle: no such agent
    assert "there is no agent 'nobody'" in refused.json()["detail"]
    assert not EvidenceExport.objects.exists()


def test_an_export_body_that_is_no_object_is_refused_not_a_crash(
    transactional_db, signing_key, agent_token, api_client
):
    # Found by schemathesis: a JSON number as the body was read as the query and crashed (500).
    refused = api_client.post(
        "/api/v1/evidence/exports/?agent_id=a", "0.3333", content_type="application/json"
    )
    assert refused.status_code == 400
    assert "must be a JSON object" in refused.json()["detail"]
    assert not EvidenceExport.objects.exists()


@pytest.mark.parametrize("since", [True, 3, ["2026-01-01T00:00:00Z"], {"at": "today"}])
def test_an_export_bound_that_is_no_string_is_refused_not_a_crash(
    transactional_db, signing_key, agent_token, api_client, since
):
    # Found by schemathesis: `"since": true` reached fromisoformat and crashed (500).
    refused = api_client.post(
        "/api/v1/evidence/exports/",
        {"agent_id": "a", "since": since},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "is not a string" in str(refused.json())
    assert not EvidenceExport.objects.exists()
