"""`manage.py run_report soc2 --since ... --until ... --as USER`: run a report now, or queue it."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from obsportal.compliance.reports import registry
from obsportal.compliance.reports.build import build_report, report_dir
from obsportal.compliance.reports.build import drop as drop_into
from obsportal.compliance.reports.models import ReportRun
from obsportal.compliance.reports.services import InvalidReportRequest, request_report
from obsportal.integrity.signing import load_signing_key
from obsportal.params import read_moment


class Command(BaseCommand):
    help = "Run a compliance report over a period (UTC, until excluded), as a portal user."

    def add_arguments(self, parser):
        parser.add_argument("framework", choices=list(registry.FRAMEWORKS))
        parser.add_argument("--since", required=True, help="ISO 8601 with a UTC offset")
        parser.add_argument("--until", required=True, help="ISO 8601 with a UTC offset")
        parser.add_argument(
            "--as", dest="as_user", required=True, help="the user whose view the report shows"
        )
        parser.add_argument("--seed", help="the sample's seed (default: random)")
        parser.add_argument("--queue", action="store_true", help="queue it for a worker instead")
        parser.add_argument("--drop", help="copy the finished report into this directory")
        parser.add_argument("--trigger", default="command", help="recorded as the run's trigger")
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="reuse a finished run of this framework and trigger",
        )

    def handle(
        self, *args, framework, since, until, as_user, seed, queue, drop, trigger, reuse, **options
    ):
        user = get_user_model().objects.filter(username=as_user).first()
        if user is None:
            raise CommandError(f"no user {as_user!r}")
        if reuse:
            done = ReportRun.objects.filter(
                framework=framework, trigger=trigger, status=ReportRun.Status.DONE
            ).first()
            if done is not None and report_dir(done).is_dir():
                self._print(done, reused=True)
                return
        try:
            run = request_report(
                framework,
                read_moment(since),
                read_moment(until),
                user,
                seed=seed,
                trigger=trigger,
                queue=queue,
            )
        except (InvalidReportRequest, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if queue:
            self.stdout.write(f"Queued report run {run.pk}")
            return
        run = build_report(run.pk)
        if drop:
            self.stdout.write(f"Dropped into {drop_into(run, Path(drop))}")
        self._print(run)

    def _print(self, run: ReportRun, reused: bool = False) -> None:
        verb = "Reusing" if reused else "Built"
        period = f"{run.since.isoformat()} to {run.until.isoformat()}"
        self.stdout.write(
            f"{verb} {run.framework} report {run.pk} ({period}, seed {run.seed}): "
            f"{run.sections_with_exceptions} section(s) with exceptions, in {report_dir(run)}"
        )
        self.stdout.write(f"  report.json SHA-256 {run.report_sha256}")
        self.stdout.write(
            f"  check it offline: agents-sdk verify-report {report_dir(run) / 'report.json'} "
            f"--key '{load_signing_key().verifier_key}'"
        )
