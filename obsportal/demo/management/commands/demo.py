"""Set up the first-run demo: logins, an agent token, and scripted agent activity shipped in.

Run again, it reuses the logins, the demo agent's token and its journal (one stream), and says so.
With `--serve ADDR` it then serves the portal there, signing checkpoints and verifying streams on a
schedule as Celery beat would (the embedded portal has neither broker nor beat).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

from agents_sdk import AuditConfig, CeleryTransport, Observability
from obsportal.celery import app as celery_app
from obsportal.demo import services
from obsportal.demo.agent import run_scripted_agent
from obsportal.demo.incidents import stage_incidents
from obsportal.demo.pages import page_tour
from obsportal.demo.reports import demo_reports
from obsportal.demo.schedule import IntegritySchedule
from obsportal.demo.subjects import run_subject_requests
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.signing import SigningKeyExists, create_signing_key
from obsportal.integrity.verification import verify_streams
from obsportal.trail.recovery import recover_trail_journals


class Command(BaseCommand):
    help = (
        "Create the demo login and run a scripted agent whose audit events go through the SDK "
        "journal and the shipper into the portal; run again, reuse what the first run made."
    )

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, default=60, help="agent steps to act out")
        parser.add_argument("--password", default="officer-demo", help="the demo login's password")
        parser.add_argument(
            "--journal", default=None, help="journal path (default: var/journals/<agent>.jsonl)"
        )
        parser.add_argument(
            "--serve",
            metavar="ADDR:PORT",
            help="then serve the portal there, with checkpoints and verification on a schedule",
        )
        parser.add_argument(
            "--incidents",
            action="store_true",
            help="also stage a fork and a gap on a second agent's stream, for the integrity pages",
        )
        parser.add_argument(
            "--schedule",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="with --serve: sign a checkpoint and verify every stream this often (default 60)",
        )

    def handle(self, *args, steps, password, journal, serve, schedule, incidents=False, **options):
        # An in-process task logs its whole result at INFO: not what a newcomer needs to read.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        logins = services.ensure_logins(password)
        token = services.ensure_token()
        path = Path(journal) if journal else services.journal_path()

        recorded, shipped, stream = self._run_agent(path, token.value, steps)
        staged = stage_incidents() if incidents else None
        with contextlib.suppress(SigningKeyExists):  # first run: the portal's checkpoint key
            create_signing_key()
        # Retention is an app beside the demo (a sibling floor): reached by its command.
        call_command("retention_demo", services.DEMO_AGENT, stdout=self.stdout)
        requests = run_subject_requests(services.DEMO_AGENT)
        checkpoint = sign_checkpoint()
        run = verify_streams(trigger="demo")

        stored = services.stored_events(stream)
        if recorded:
            self.stdout.write(f"Recorded {recorded} audit events in {path}")
            self.stdout.write(f"Shipped and stored {stored} events (all shipped: {shipped})")
        else:
            self.stdout.write(
                f"Reusing the demo agent '{services.DEMO_AGENT}' and its stream {stream} "
                f"({stored} events stored, all shipped: {shipped}), journal {path}"
            )
        if token.reused:
            self.stdout.write(f"Reusing its ingest token ({services.token_path()})")
        else:
            self.stdout.write(f"Its ingest token is in {services.token_path()}")
        erased = requests.erasure.outcome.get("counts", {}).get("fields_erased", 0)
        self.stdout.write(
            f"Subject requests: access {requests.access.reference} (JSON, CSV, PDF built), "
            f"erasure {requests.erasure.reference} ({erased} field(s) erased; verification "
            f"reads them as erased under request {requests.erasure.reference})"
        )
        self.stdout.write(
            f"Signed checkpoint {checkpoint.pk}; verification of {run.streams_checked} "
            f"stream(s), {run.events_checked} events: {run.status}"
        )
        self.stdout.write(
            f"The portal's own trail, {recover_trail_journals().summary()} "
            "(`manage.py recover_trail` stores what a killed process left in its journal)"
        )
        for line in page_tour(stream, services.DEMO_AGENT):
            self.stdout.write(line)
        if staged:
            self.stdout.write(staged)
        demo_reports(self.stdout, services.DEMO_USER)
        for login in logins:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Log in as '{login.username}' with password '{login.password}' "
                    f"({login.role.label})"
                )
            )
        if serve:
            self._serve(serve, schedule)

    def _run_agent(self, path: Path, token: str, steps: int) -> tuple[int, bool, str]:
        """Act out the scripted agent unless this journal's stream is already in the portal."""
        # With no broker configured the Celery app runs tasks in process, so this is
        # the same shipping path a deployed agent uses, minus the network.
        transport = CeleryTransport(app=celery_app, token=token)
        audit = AuditConfig(path, transport=transport)
        observability = Observability(services.DEMO_AGENT, audit=audit)
        stream = observability.journal.stream
        if observability.journal.last_seq >= 0 and not services.portal_knows(stream):
            # The database was made anew under an old journal: start one the portal has whole.
            observability.shutdown(timeout=5)
            services.discard_journal(path)
            observability = Observability(services.DEMO_AGENT, audit=audit)
            stream = observability.journal.stream
        recorded = 0
        try:
            if observability.journal.last_seq < 0:
                recorded = run_scripted_agent(observability, steps)
        finally:
            shipped = observability.shutdown(timeout=60)
        return recorded, shipped.audit_shipped, stream

    def _serve(self, address: str, interval: float) -> None:
        schedule = IntegritySchedule(interval)
        schedule.start()
        self.stdout.write(
            f"Portal: http://{address}/  (API docs: /api/v1/schema/docs/); checkpoints and "
            f"verification every {interval:g} s. Ctrl-C stops it."
        )
        try:
            call_command("runserver", address, use_reloader=False, skip_checks=True)
        finally:
            schedule.stop()
