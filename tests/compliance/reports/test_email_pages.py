"""The reports pages in real Chromium: a compliance officer names a schedule's recipients; the
run page shows each delivery (one sent, one failed). Photographed at desktop and phone width
(to a directory of your choice with REPORT_EMAIL_SCREENSHOTS=/path)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from obsportal.compliance.reports.models import ReportDelivery
from obsportal.compliance.reports.services import create_schedule
from tests.browser.conftest import browser, page  # noqa: F401 (fixtures)
from tests.browser.test_integrity_browser import photograph
from tests.browser.test_roles_browser import sign_in
from tests.support.people import person


def test_an_officer_sets_recipients_and_reads_their_delivery(page, live_server, built, tmp_path):  # noqa: F811
    shots = Path(os.environ.get("REPORT_EMAIL_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    officer = person(type(built.admin), "officer", "compliance_officer")
    schedule = create_schedule("soc2", "monthly", officer, by=officer)
    run = built.run
    run.schedule = schedule
    run.save(update_fields=["schedule"])
    sign_in(page, live_server.url, "officer")

    page.goto(f"{live_server.url}/reports/")
    page.fill(f"#recipients-{schedule.pk}", "not-an-address")
    page.click("button:text('Save recipients')")
    expect(page.locator("p.error")).to_contain_text("is not an email address")
    page.fill(f"#recipients-{schedule.pk}", "auditor@example.org, ciso@example.org")
    page.click("button:text('Save recipients')")
    expect(page.locator(f"#recipients-{schedule.pk}")).to_have_value(
        "auditor@example.org, ciso@example.org"
    )
    photograph(page, shots, "reports-schedules")

    ReportDelivery.objects.create(run=run, recipient="auditor@example.org", status="sent",
                                  attempts=1, sent_at=run.finished_at)  # fmt: skip
    ReportDelivery.objects.create(run=run, recipient="ciso@example.org", status="failed",
                                  attempts=3, error="ConnectionRefusedError: [Errno 111] "
                                  "Connection refused")  # fmt: skip
    page.goto(f"{live_server.url}/reports/{run.pk}/")
    rows = page.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("failed")
    expect(rows.nth(1)).to_contain_text("ConnectionRefusedError")
    photograph(page, shots, "report-run-email")
