"""Set up the first-run demo: a login, an agent token, and scripted agent activity shipped in."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from agents_sdk import AuditConfig, CeleryTransport, Observability
from obsportal.accounts.roles import Role
from obsportal.accounts.services import assign_role, issue_agent_token
from obsportal.celery import app as celery_app
from obsportal.demo.agent import run_scripted_agent
from obsportal.ingest.models import AuditEvent
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.signing import SigningKeyExists, create_signing_key
from obsportal.integrity.verification import verify_streams

DEMO_USER = "officer"
# One login per role: (username, role); each password is the --password with the
# username's own prefix (officer-demo, admin-demo, auditor-demo by default).
DEMO_LOGINS = (
    (DEMO_USER, Role.COMPLIANCE_OFFICER),
    ("admin", Role.ADMINISTRATOR),
    ("auditor", Role.AUDITOR),
)
DEMO_AGENT = "demo-support-agent"


class Command(BaseCommand):
    help = (
        "Create the demo login and run a scripted agent whose audit events go through the SDK "
        "journal and the shipper into the portal."
    )

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, default=60, help="agent steps to act out")
        parser.add_argument("--password", default="officer-demo", help="the demo login's password")
        parser.add_argument(
            "--journal", default=None, help="journal path (default: a new file under var/)"
        )

    def handle(self, *args, steps: int, password: str, journal: str | None, **options):
        logins = []
        for username, role in DEMO_LOGINS:
            user, _ = get_user_model().objects.get_or_create(
                username=username, defaults={"is_staff": role == Role.ADMINISTRATOR}
            )
            secret = password if username == DEMO_USER else password.replace(DEMO_USER, username)
            user.set_password(secret)
            user.save()
            assign_role(user, role)
            logins.append((username, role, secret))
        token = issue_agent_token(DEMO_AGENT, label="demo")

        journal_dir = Path(settings.VAR_DIR) / "journals"
        journal_dir.mkdir(parents=True, exist_ok=True)
        journal_path = (
            Path(journal)
            if journal
            else Path(tempfile.mkstemp(prefix="demo-agent-", suffix=".jsonl", dir=journal_dir)[1])
        )
        # With no broker configured the Celery app runs tasks in process, so this is
        # the same shipping path a deployed agent uses, minus the network.
        transport = CeleryTransport(app=celery_app, token=token)
        before = AuditEvent.objects.count()
        observability = Observability(DEMO_AGENT, AuditConfig(journal_path, transport=transport))
        try:
            recorded = run_scripted_agent(observability, steps, progress=self._progress)
        finally:
            shipped = observability.shutdown(timeout=60).audit_shipped
        stored = AuditEvent.objects.count() - before
        with contextlib.suppress(SigningKeyExists):  # first run: the portal's checkpoint key
            create_signing_key()
        checkpoint = sign_checkpoint()
        run = verify_streams(trigger="demo")
        self.stdout.write("")
        self.stdout.write(f"Recorded {recorded} audit events in {journal_path}")
        self.stdout.write(f"Shipped and stored {stored} events (all shipped: {shipped})")
        self.stdout.write(
            f"Signed checkpoint {checkpoint.pk}; verification of {run.streams_checked} "
            f"stream(s), {run.events_checked} events: {run.status}"
        )
        for username, role, secret in logins:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Log in as '{username}' with password '{secret}' ({role.label})"
                )
            )

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            self.stdout.write(f"  agent steps: {done}/{total}")
