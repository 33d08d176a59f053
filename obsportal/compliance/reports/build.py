"""Building a report run: every section's populations, breakdowns and statements, the chain
coverage, a seeded sample, the files with their digests, and the signature.

A run writes into `OBSPORTAL_REPORT_DIR/report-<id>.partial/` and renames it when whole:
report.json (signed, canonical), report.html, report.pdf (PDF/A-3b, report.json and the
CSVs attached), and one CSV per population, streamed so that memory stays flat.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from obsportal.accounts.permissions import access_of
from obsportal.compliance.renderers.csv import write_population
from obsportal.compliance.renderers.html import render_html
from obsportal.compliance.renderers.json import signed_json
from obsportal.compliance.renderers.pdf import write_pdf
from obsportal.compliance.reports import registry, sources
from obsportal.compliance.reports.base import Breakdown, Framework, Population, Section
from obsportal.compliance.reports.coverage import chain_coverage
from obsportal.compliance.reports.models import ReportRun
from obsportal.compliance.reports.paths import report_dir
from obsportal.compliance.reports.statements import EXCEPTIONS, NEEDS, STATEMENTS
from obsportal.integrity.signing import load_signing_key

REPORT_FORMAT = "obsportal-report/1"
GENERATOR = "obsportal.compliance.reports"
GENERATOR_VERSION = "1.0"
SAMPLE_RULE = (
    "k = 10% of the population, at least 3 (or all if fewer), at most 25; rows = "
    "sorted(random.Random(f'{seed}/{section}/{population}').sample(range(N), k)) in the "
    "population's order (CPython's random, string seeds are hashed with SHA-512)"
)
PROGRESS_EVERY_S = 1.0
CSV_NOTE = "UTF-8, RFC 4180, header row; a cell starting = + - @ tab or CR is prefixed with '"


def sample_size(population: int) -> int:
    if population <= 3:
        return population
    return max(3, min(25, math.ceil(population / 10)))


def sample_indices(seed: str, key: str, population: int) -> list[int]:
    """The rows (0-based, in the population's order) the seeded sample draws."""
    rng = random.Random(f"{seed}/{key}")
    return sorted(rng.sample(range(population), sample_size(population)))


def _file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


class _Progress:
    def __init__(self, run: ReportRun, steps: int):
        self.run, self.steps, self.done, self.last = run, max(1, steps), 0, 0.0

    def step(self, text: str) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S or self.done >= self.steps:
            self.last = now
            percent = min(99, int(100 * self.done / self.steps))
            ReportRun.objects.filter(pk=self.run.pk).update(progress=percent, step=text[:200])


def _population(
    section: Section, pop: Population, period: sources.Period, reader: Any, seed: str, folder: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    query = sources.SOURCES[pop.source](pop.params, period, reader)
    key = f"{section.key}/{pop.key}"
    expected = sources.count(query, pop.predicate)
    name = f"{section.key}.{pop.key}.csv"
    picks = set(sample_indices(seed, key, expected))
    written = write_population(
        folder / name, query.columns, sources.rows(query, pop.predicate), picks
    )
    entry = {
        "key": pop.key,
        "title": pop.title,
        "exception": pop.exception,
        "count": written.rows,
        "query": {
            "selector": query.selector,
            "params": query.params,
            "predicate": pop.predicate,
            "api": query.api,
            "sql": query.sql(),
        },
        "file": name,
        "sample": {
            "seed": seed,
            "key": key,
            "size": len(written.sample),
            "columns": ["row", *query.columns],
            "rows": written.sample,
        },
    }
    if expected != written.rows:
        entry["note"] = (
            f"the population changed while it was written: counted {expected}, wrote "
            f"{written.rows}; the file is the population"
        )
    return entry, {
        "name": name,
        "rows": written.rows,
        "sha256": written.sha256,
        "bytes": written.bytes,
    }


def _breakdown(bd: Breakdown, period: sources.Period, reader: Any) -> dict[str, Any]:
    query = sources.SOURCES["events"](bd.params, period, reader)
    grouped = (
        query.queryset.order_by()
        .values(*bd.group_by)
        .annotate(events=Count("id"))
        .order_by(*bd.group_by)
    )
    rows = [[row[g] for g in bd.group_by] + [row["events"]] for row in grouped]
    return {
        "key": bd.key,
        "title": bd.title,
        "columns": [g.replace("__", ".") for g in bd.group_by] + ["events"],
        "rows": rows,
        "query": {
            "selector": query.selector,
            "params": query.params,
            "api": query.api,
            "sql": sources.query_sql(grouped),
        },
    }


def _section(
    section: Section,
    period: sources.Period,
    reader: Any,
    seed: str,
    folder: Path,
    progress: _Progress,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    populations, files = [], []
    for pop in section.populations:
        entry, file = _population(section, pop, period, reader, seed, folder)
        populations.append(entry)
        files.append(file)
        progress.step(f"{section.title}: {pop.title}")
    breakdowns = []
    for bd in section.breakdowns:
        breakdowns.append(_breakdown(bd, period, reader))
        progress.step(f"{section.title}: {bd.title}")
    statements = []
    for name in section.statements:
        statements.append(STATEMENTS[name](period, reader).as_dict())
        progress.step(f"{section.title}: {name}")
    exceptions = sum(p["count"] for p in populations if p["exception"])
    status = "ok"
    if exceptions or any(s["status"] == EXCEPTIONS for s in statements):
        status = "exceptions"
    elif any(s["status"] == NEEDS for s in statements):
        status = "incomplete"
    return (
        {
            "key": section.key,
            "title": section.title,
            "controls": [
                {"framework": c.framework, "id": c.id, "title": c.title} for c in section.controls
            ],
            "shows": section.shows,
            "limits": section.limits,
            "status": status,
            "exceptions": exceptions,
            "populations": populations,
            "breakdowns": breakdowns,
            "statements": statements,
        },
        files,
    )


def compose(
    run: ReportRun, framework: Framework, reader: Any, folder: Path, progress: _Progress
) -> dict[str, Any]:
    """The report document (unsigned) and its CSVs in `folder`."""
    period = sources.Period(run.since, run.until)
    sections, files = [], []
    for section in framework.sections:
        entry, written = _section(section, period, reader, run.seed, folder, progress)
        sections.append(entry)
        files.extend(written)
    coverage = chain_coverage(period, reader)
    progress.step("chain coverage")
    return {
        "format": REPORT_FORMAT,
        "header": {
            "framework": {"key": framework.key, "title": framework.title},
            "controls": [c.label() for c in framework.controls()],
            "sections": [{"key": s["key"], "title": s["title"]} for s in sections],
            "period": {
                "since": sources.iso(run.since),
                "until": sources.iso(run.until),
                "bounds": "UTC; since included, until excluded: since <= ts < until",
            },
            "scope": access_of(reader).scope.describe(),
            "generator": {"name": GENERATOR, "version": GENERATOR_VERSION},
            "generated_at": sources.iso(timezone.now()),
            "generated_by": reader.get_username() if reader is not None else "nobody",
            "run": run.pk,
            "trigger": run.trigger,
            "sample": {"seed": run.seed, "rule": SAMPLE_RULE},
            "csv": CSV_NOTE,
        },
        "coverage": coverage,
        "sections": sections,
        "files": files,
    }


def build_report(run_id: int) -> ReportRun:
    """Build one run's files; a failure is kept on the row with its reason."""
    run = ReportRun.objects.select_related("requested_by", "schedule__owner").get(pk=run_id)
    if run.status == ReportRun.Status.DONE:
        return run  # a redelivered task
    run.status, run.started_at, run.error = ReportRun.Status.RUNNING, timezone.now(), ""
    run.save(update_fields=["status", "started_at", "error"])
    reader = run.requested_by or (run.schedule.owner if run.schedule else None)
    framework = registry.framework(run.framework)
    steps = 3 + sum(
        len(s.populations) + len(s.breakdowns) + len(s.statements) for s in framework.sections
    )
    progress = _Progress(run, steps)
    final = report_dir(run)
    folder = final.with_name(final.name + ".partial")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        key = load_signing_key()
        document = compose(run, framework, reader, folder, progress)
        signed = signed_json(document, key)
        (folder / "report.json").write_bytes(signed)
        document = orjson.loads(signed)  # the pages show what was signed, signature included
        (folder / "report.html").write_text(render_html(document))
        progress.step("PDF")
        if getattr(settings, "OBSPORTAL_REPORT_PDF", True):
            attachments = [folder / "report.json", *(folder / f["name"] for f in document["files"])]
            write_pdf(
                render_html(document, for_pdf=True),
                folder / "report.pdf",
                attachments,
                framework.title,
            )
        if final.exists():
            shutil.rmtree(final)
        os.replace(folder, final)
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        run.status, run.error = ReportRun.Status.FAILED, f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save()
        raise
    run.files = {p.name: _file_digest(p) for p in sorted(final.iterdir())}
    run.report_sha256 = run.files["report.json"]["sha256"]
    run.sections_with_exceptions = sum(
        1 for s in document["sections"] if s["status"] == "exceptions"
    )
    run.status, run.progress, run.step = ReportRun.Status.DONE, 100, "ready"
    run.finished_at = timezone.now()
    run.save()
    if run.schedule and run.schedule.drop_dir:
        drop(run, Path(run.schedule.drop_dir))
    return run


def drop(run: ReportRun, directory: Path) -> Path:
    """Copy a finished report into `directory` (a scheduled report's destination)."""
    target = directory / f"{run.framework}-{run.since:%Y%m%d}-{run.until:%Y%m%d}-run{run.pk}"
    shutil.copytree(report_dir(run), target, dirs_exist_ok=True)
    return target
