"""The job killed with -9 mid-run resumes: no anchor lost, no seq pruned twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from obsportal.ingest.models import AuditEvent
from obsportal.integrity.models import PruneAnchor
from obsportal.integrity.verification import verify_streams
from obsportal.retention.models import RetentionRun
from tests.retention.helpers import active_policy, approved_plan, officers
from tests.support.chains import admit_journal

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 3000
CHUNK = 50

pytestmark = pytest.mark.slow


def command_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        OBSPORTAL_SIGNING_KEY_FILE=str(settings.OBSPORTAL_SIGNING_KEY_FILE),
        OBSPORTAL_CHECKPOINT_DIR=str(settings.OBSPORTAL_CHECKPOINT_DIR),
        PYTHONUNBUFFERED="1",
    )
    return env


def apply_retention(plan_id: int, log: Path) -> subprocess.Popen:
    argv = [sys.executable, "manage.py", "apply_retention", "--plan", str(plan_id)]
    argv += ["--chunk-size", str(CHUNK)]
    return subprocess.Popen(
        argv, cwd=ROOT, env=command_env(), stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def test_killed_mid_run_resumes_without_losing_an_anchor_or_pruning_twice(
    transactional_db, agent_token, tmp_path, signing_key
):
    agent, token = agent_token
    events = admit_journal(tmp_path, token, agent, "long.jsonl", EVENTS)
    stream = events[0]["stream"]
    alice, bob = officers()
    active_policy(alice, bob, agent_pattern="agent-7")
    plan = approved_plan(alice, bob)

    log = tmp_path / "first.log"
    proc = apply_retention(plan.pk, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and log.read_text().count(": pruned ") < 5:
        assert proc.poll() is None, log.read_text()
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # a real process, mid-run
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    anchored = list(PruneAnchor.objects.filter(stream_id=stream).order_by("last_seq"))
    remaining = AuditEvent.objects.filter(stream_id=stream).count()
    assert 0 < len(anchored) < EVENTS // CHUNK
    # What is gone is exactly what the anchors account for, chunk for chunk.
    assert remaining == EVENTS - (anchored[-1].last_seq + 1)
    assert RetentionRun.objects.get(plan=plan).status == "running"

    second = apply_retention(plan.pk, tmp_path / "second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    anchors = list(PruneAnchor.objects.filter(stream_id=stream).order_by("last_seq"))
    assert [a.first_seq for a in anchors] == list(range(0, EVENTS, CHUNK))
    assert sum(a.count for a in anchors) == EVENTS
    assert not AuditEvent.objects.filter(stream_id=stream).exists()
    run = RetentionRun.objects.get(plan=plan)
    assert (run.status, run.pruned, run.anchors) == ("done", EVENTS, EVENTS // CHUNK)
    result = verify_streams().streams.get(stream_id=stream)
    assert result.status == "verified", result.breaks
    assert (result.pruned[0]["from"], result.pruned[0]["to"]) == (0, EVENTS - 1)
