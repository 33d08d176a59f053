"""The compliance status per framework, read at scrape time: the sections with exceptions of
each framework's latest finished run."""

from __future__ import annotations

from obsportal.compliance.reports.collectors import ReportStatusCollector
from tests.compliance.reports.conftest import build


def status() -> dict[str, float]:
    return {
        s.labels["framework"]: s.value
        for family in ReportStatusCollector().collect()
        for s in family.samples
    }


def test_each_frameworks_latest_run_gives_its_sections_with_exceptions(world):
    assert status() == {}
    soc2 = build(world, "soc2").run
    # The world holds a fork and a self-approval: SOC 2 has exceptions.
    assert soc2.sections_with_exceptions >= 1
    assert status() == {"soc2": soc2.sections_with_exceptions}
    gdpr = build(world, "gdpr").run
    assert status() == {
        "soc2": soc2.sections_with_exceptions,
        "gdpr": gdpr.sections_with_exceptions,
    }
    # The latest run of a framework gives its figure, whatever an earlier one found.
    again = build(world, "soc2", seed="seed-2").run
    type(soc2).objects.filter(pk=soc2.pk).update(sections_with_exceptions=99)
    assert status()["soc2"] == again.sections_with_exceptions != 99
