"""The verification job runs on a real Celery worker and stores its result."""

from __future__ import annotations

import time

from obsportal.celery import app
from obsportal.integrity import tasks
from obsportal.integrity.models import VerificationRun
from tests.support.chains import admit_journal


def test_the_scheduled_verification_runs_on_the_worker(
    transactional_db, celery_worker, agent_token, tmp_path
):
    agent, token = agent_token
    stream = admit_journal(tmp_path, token, agent, "w.jsonl", 5)[0]["stream"]
    # Sent through the portal's own app, as beat does, and observed in the database
    # (the job's product) rather than through a result backend.
    app.send_task(tasks.verify_streams.name)
    deadline = time.monotonic() + 60
    while not (run := VerificationRun.objects.filter(trigger="schedule").first()) or (
        run.status == VerificationRun.Status.RUNNING
    ):
        assert time.monotonic() < deadline, "the worker did not run the verification"
        time.sleep(0.2)
    assert run.events_checked == 5
    result = run.streams.get(stream_id=stream)
    assert (result.status, result.verified_from, result.verified_to) == ("verified", 0, 4)
