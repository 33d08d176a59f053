"""The verification job runs on a real Celery worker and stores its result."""

from __future__ import annotations

from obsportal.integrity import tasks
from obsportal.integrity.models import VerificationRun
from tests.integrity.conftest import admit_journal


def test_the_scheduled_verification_runs_on_the_worker(
    transactional_db,
    celery_worker,
    agent_token,
    tmp_path,
):
    agent, token = agent_token
    admit_journal(tmp_path, token, agent, "w.jsonl", 5)
    outcome = tasks.verify_streams.delay().get(timeout=60)
    assert outcome["status"] == "verified" and outcome["events_checked"] == 5
    run = VerificationRun.objects.get(pk=outcome["run"])
    assert run.trigger == "schedule" and run.streams.get().verified_to == 4
