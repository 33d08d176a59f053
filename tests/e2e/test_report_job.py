"""A report is a job: requested over the API, built by a real Celery worker with progress,
downloaded and verified offline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rest_framework.test import APIClient

from obsportal.accounts.services import issue_api_token
from tests.e2e.conftest import ROOT, worker_env
from tests.factories import with_role
from tests.support.celery_worker import worker_argv
from tests.support.chains import admit_journal


@pytest.fixture
def reports_worker(transactional_db, signing_key, tmp_path, settings):
    from django.db import connection

    settings.OBSPORTAL_REPORT_DIR = tmp_path / "reports"
    env = worker_env(
        connection.settings_dict["NAME"],
        OBSPORTAL_SIGNING_KEY_FILE=str(settings.OBSPORTAL_SIGNING_KEY_FILE),
        OBSPORTAL_CHECKPOINT_DIR=str(settings.OBSPORTAL_CHECKPOINT_DIR),
        OBSPORTAL_REPORT_DIR=str(settings.OBSPORTAL_REPORT_DIR),
        OBSPORTAL_REPORT_PDF="0",  # tests/compliance/reports/test_pdf.py renders the PDF
    )
    log = tmp_path / "reports-worker.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            worker_argv(1, "reports", queues="exports"),
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


def test_a_report_is_built_by_the_worker_and_verifies_offline(
    reports_worker, agent_token, tmp_path, django_user_model, signing_key
):
    agent, token = agent_token
    admit_journal(tmp_path, token, agent, "x.jsonl", 12)
    officer = with_role(django_user_model.objects.create_user("off"), "compliance_officer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(officer)}")
    body = {"framework": "ai_act", "since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    requested = client.post("/api/v1/reports/", body, format="json")
    assert requested.status_code == 202, requested.content
    run = requested.json()
    deadline = time.monotonic() + 180
    while (run := client.get(run["url"]).json())["status"] in ("queued", "running"):
        assert 0 <= run["progress"] < 100
        assert time.monotonic() < deadline, reports_worker.read_text()[-3000:]
        time.sleep(0.2)
    assert run["status"] == "done", run
    assert run["progress"] == 100
    download = client.get(f"{run['url']}files/report.json")
    report = tmp_path / "report.json"
    report.write_bytes(b"".join(download.streaming_content))
    key = signing_key.verifier_key
    done = subprocess.run(
        [sys.executable, "-m", "agents_sdk", "verify-report", str(report), "--key", key],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Only report.json was downloaded: its CSVs are "not at hand", the rest verifies.
    assert done.returncode == 0, done.stdout + done.stderr
