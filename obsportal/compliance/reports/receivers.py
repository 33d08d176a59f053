"""The trail records of report changes, in the transaction that made them (see signals)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from obsportal.compliance.reports.signals import report_changed
from obsportal.trail.services import record_change


@receiver(report_changed, dispatch_uid="compliance_reports.trail")
def _on_report_change(
    sender: Any, actor: Any, action: str, target: Any, details: dict, **kw
) -> None:
    record_change(actor, action, target, details, personal=kw.get("personal"))
