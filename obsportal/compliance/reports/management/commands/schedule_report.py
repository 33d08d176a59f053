"""`manage.py schedule_report soc2 quarterly --as USER [--drop-dir DIR] [--recipient ADDR]...`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from obsportal.compliance.reports import registry
from obsportal.compliance.reports.models import ReportSchedule
from obsportal.compliance.reports.services import InvalidReportRequest, create_schedule


class Command(BaseCommand):
    help = "Run a framework's report for every month or quarter once it has ended (Celery beat)."

    def add_arguments(self, parser):
        parser.add_argument("framework", choices=list(registry.FRAMEWORKS))
        parser.add_argument("cadence", choices=ReportSchedule.Cadence.values)
        parser.add_argument("--as", dest="as_user", required=True)
        parser.add_argument("--drop-dir", default="", help="copy each finished report here")
        parser.add_argument(
            "--recipient", action="append", default=[], help="email each finished report here"
        )

    def handle(self, *args, framework, cadence, as_user, drop_dir, recipient, **options):
        owner = get_user_model().objects.filter(username=as_user).first()
        if owner is None:
            raise CommandError(f"no user {as_user!r}")
        try:
            schedule = create_schedule(
                framework, cadence, owner, drop_dir=drop_dir, recipients=recipient
            )
        except InvalidReportRequest as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Scheduled {schedule} as {as_user} (schedule {schedule.pk})")
