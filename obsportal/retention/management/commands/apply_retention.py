"""apply_retention: the dry run, plans and their approval, and the run, from the command line.

    manage.py apply_retention --dry-run            what would go, per policy, and what holds keep
    manage.py apply_retention --propose --user U   freeze the dry run as a plan by U
    manage.py apply_retention --approve N --user V approve plan N (V must not be its author)
    manage.py apply_retention [--plan N]           run plan N (or every approved plan)

A run resumes where a killed one stopped (from its last prune anchor).
"""

from __future__ import annotations

import json
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from obsportal.accounts.duties import ApprovalRefused
from obsportal.ingest.envelope import parse_ts
from obsportal.retention.floors import BelowStatutoryFloor
from obsportal.retention.models import RetentionPlan
from obsportal.retention.services import plans, runs
from obsportal.retention.services.trail import RetentionRefused


class Command(BaseCommand):
    help = "Retention: dry run, propose and approve a plan, run approved plans (resumable)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would go; change nothing"
        )
        parser.add_argument("--propose", action="store_true", help="freeze the dry run as a plan")
        parser.add_argument("--approve", type=int, metavar="PLAN", help="approve a proposed plan")
        parser.add_argument(
            "--plan", type=int, help="run this approved plan (default: all approved)"
        )
        parser.add_argument("--user", help="the portal user acting (proposing, approving, running)")
        parser.add_argument("--as-of", help="the plan's moment (RFC 3339); default now")
        parser.add_argument(
            "--simulated-clock",
            action="store_true",
            help="allow --as-of in the future (demos and benchmarks: it shortens every period)",
        )
        parser.add_argument("--chunk-size", type=int, help="events a chunk (one anchor each)")
        parser.add_argument("--json", action="store_true", help="print the dry run as JSON")

    def handle(self, *args, **options) -> None:
        user = self._user(options["user"])
        as_of = self._as_of(options["as_of"], options["simulated_clock"])
        try:
            if options["dry_run"]:
                self._dry_run(as_of, options["json"])
                return
            if options["propose"]:
                plan = plans.propose_plan(
                    user, as_of=as_of, simulated_clock=options["simulated_clock"]
                )
                self.stdout.write(
                    f"plan {plan.pk} proposed: {plan.report['events']} events in "
                    f"{plan.report['streams']} streams; another person must approve it"
                )
                return
            if options["approve"]:
                plan = plans.approve_plan(user, RetentionPlan.objects.get(pk=options["approve"]))
                self.stdout.write(f"plan {plan.pk} approved by {user.get_username()}")
                return
            to_run = (
                [RetentionPlan.objects.get(pk=options["plan"])]
                if options["plan"]
                else plans.approved_plans_to_run()
            )
            if not to_run:
                self.stdout.write("no approved plan to run")
            for plan in to_run:
                outcome = runs.run_plan(
                    plan,
                    user=user,
                    chunk_size=options["chunk_size"],
                    progress=lambda line: self.stdout.write(line),
                )
                for skip in outcome.run.skipped:
                    self.stdout.write(
                        f"kept by legal hold {skip['hold']} ({skip['name']}): {skip['events']} "
                        f"events of {skip['stream']} from seq {skip['from_seq']}"
                    )
        except RetentionPlan.DoesNotExist as exc:
            raise CommandError("no such plan") from exc
        except (RetentionRefused, ApprovalRefused, BelowStatutoryFloor) as exc:
            raise CommandError(str(exc)) from exc

    def _user(self, name: str | None):
        if name is None:
            return None
        try:
            return get_user_model().objects.get(username=name)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"no user {name!r}") from exc

    def _as_of(self, text: str | None, simulated: bool) -> datetime | None:
        if text is None:
            return None
        try:
            return parse_ts(text)
        except ValueError as exc:
            raise CommandError(f"--as-of {text!r} is not an RFC 3339 UTC time") from exc

    def _dry_run(self, as_of: datetime | None, as_json: bool) -> None:
        report = plans.dry_run(as_of)
        if as_json:
            self.stdout.write(json.dumps(report, indent=1))
            return
        out = self.stdout.write
        out(
            f"dry run as of {report['as_of']}: {report['events']} events in "
            f"{report['streams']} streams would go"
        )
        for p in report["policies"]:
            out(
                f"policy {p['policy']} ({p['framework']}, {p['keep_days']} days, before "
                f"{p['cutoff']}): {p['events']} events"
                + (f", oldest {p['oldest']}, newest {p['newest']}" if p["events"] else "")
            )
            for s in p["streams"]:
                out(f"  {s['stream']}: seq {s['from']}..{s['to']} ({s['events']} events)")
        for h in report["holds"]:
            out(
                f"legal hold {h['hold']} ({h['name']}) keeps {h['events']} events that would "
                "otherwise go"
            )
            for s in h["streams"]:
                out(f"  {s['stream']}: from seq {s['from_seq']} ({s['events']} events)")
