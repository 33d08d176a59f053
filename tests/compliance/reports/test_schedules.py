"""Scheduled reports: the last whole month or quarter, queued once per period, dropped in a
directory when built."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from obsportal.compliance.reports.build import drop
from obsportal.compliance.reports.models import ReportRun
from obsportal.compliance.reports.services import (
    create_schedule,
    last_complete_period,
    run_due_schedules,
)
from tests.factories import with_role


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cadence", "now", "period"),
    [
        ("monthly", utc(2026, 8, 15), (utc(2026, 7, 1), utc(2026, 8, 1))),
        ("monthly", utc(2026, 1, 3), (utc(2025, 12, 1), utc(2026, 1, 1))),
        ("quarterly", utc(2026, 10, 1, 0, 5), (utc(2026, 7, 1), utc(2026, 10, 1))),
        ("quarterly", utc(2026, 2, 10), (utc(2025, 10, 1), utc(2026, 1, 1))),
    ],
)
def test_the_last_complete_period(cadence, now, period):
    assert last_complete_period(cadence, now) == period


@pytest.mark.django_db
def test_a_schedule_queues_each_period_once(django_user_model):
    officer = with_role(django_user_model.objects.create_user("off"), "compliance_officer")
    schedule = create_schedule("hipaa", "quarterly", officer, drop_dir="/tmp/x")
    [run] = run_due_schedules(utc(2026, 10, 2))
    assert (run.since, run.until, run.trigger, run.schedule) == (
        utc(2026, 7, 1),
        utc(2026, 10, 1),
        "schedule",
        schedule,
    )
    assert run_due_schedules(utc(2026, 10, 3)) == []  # the beat runs again: nothing new
    assert len(run_due_schedules(utc(2027, 1, 2))) == 1
    assert ReportRun.objects.filter(schedule=schedule).count() == 2


def test_a_finished_report_is_dropped_with_all_its_files(built, tmp_path):
    target = drop(built.run, tmp_path / "drop")
    assert sorted(p.name for p in target.iterdir()) == sorted(built.run.files)
