"""retention_demo: the demo's policy, hold, dry run and approved run (called by `demo`)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from obsportal.retention.demo import ensure_retention_demo


class Command(BaseCommand):
    help = "Set up the demo's retention policy, legal hold, dry run and approved run."

    def add_arguments(self, parser) -> None:
        parser.add_argument("agent_id")
        parser.add_argument("--author", default="officer")
        parser.add_argument("--approver", default="admin")

    def handle(self, *args, agent_id: str, author: str, approver: str, **options) -> None:
        for line in ensure_retention_demo(agent_id, author, approver):
            self.stdout.write(line)
