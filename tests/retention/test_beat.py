"""Celery beat (django-celery-beat's database scheduler) sends the retention job, a real
worker runs the approved plan, and the schedule is a row an administrator can edit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from obsportal.ingest.models import AuditEvent
from obsportal.integrity.verification import verify_streams
from obsportal.retention.models import RetentionPlan
from tests.retention.helpers import active_policy, approved_plan, officers
from tests.support.celery_worker import worker_argv

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    out = dict(os.environ)
    out.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        OBSPORTAL_SIGNING_KEY_FILE=str(settings.OBSPORTAL_SIGNING_KEY_FILE),
        OBSPORTAL_CHECKPOINT_DIR=str(settings.OBSPORTAL_CHECKPOINT_DIR),
        OBSPORTAL_RETENTION_INTERVAL="2",
        PYTHONUNBUFFERED="1",
    )
    return out


def start(argv: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=ROOT, env=env(), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_beat_sends_the_job_and_a_worker_runs_the_approved_plan(two_chains, tmp_path):
    from django_celery_beat.models import PeriodicTask

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    alice, bob = officers()
    active_policy(alice, bob, agent_pattern="agent-7")
    plan = approved_plan(alice, bob)
    worker = start(worker_argv(1, "retention", queues="default"), tmp_path / "worker.log")
    beat_argv = [sys.executable, "-m", "celery", "-A", "obsportal", "beat", "--loglevel=INFO"]
    beat = start(beat_argv, tmp_path / "beat.log")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if RetentionPlan.objects.get(pk=plan.pk).status == "executed":
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert beat.poll() is None, (tmp_path / "beat.log").read_text()
            time.sleep(0.5)
        else:
            pytest.fail((tmp_path / "beat.log").read_text() + (tmp_path / "worker.log").read_text())
    finally:
        stop(beat)
        stop(worker)
    assert not AuditEvent.objects.filter(agent_id="agent-7").exists()
    # The schedule lives in the database, editable (django-celery-beat's admin).
    entry = PeriodicTask.objects.get(name="retention-run-approved-plans")
    assert entry.task == "obsportal.retention.tasks.run_approved_plans"
    assert entry.last_run_at is not None
    run = verify_streams()
    for stream in (two_chains["a"][0]["stream"], two_chains["b"][0]["stream"]):
        result = run.streams.get(stream_id=stream)
        assert result.status == "verified" and result.pruned[0]["to"] == 9, result.breaks
