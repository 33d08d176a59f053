"""Where a run's files live."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from obsportal.compliance.reports.models import ReportRun


def report_dir(run: ReportRun) -> Path:
    return Path(settings.OBSPORTAL_REPORT_DIR) / f"report-{run.pk:06d}"
