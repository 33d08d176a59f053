"""`manage.py agent_keys list | retire CREDENTIAL --by NAME --reason TEXT`: agents' pinned keys.

Retiring a pin is how an agent key is rotated, replaced after a loss, or accepted for a
journal moved to another host: the credential's next signed batch pins the key it
carries. Each retirement is on the portal's trail.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from obsportal.ingest.heads import KeyChangeRefused, retire_agent_key
from obsportal.ingest.models import AgentKey


class Command(BaseCommand):
    help = "List agents' pinned head-signing keys, or retire one so a new key may be pinned."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every pin, live and retired")
        retire = sub.add_parser("retire", help="retire a credential's live pin")
        retire.add_argument("credential", type=int, help="the ingest credential's id")
        retire.add_argument("--by", required=True, help="the administrator doing it")
        retire.add_argument("--reason", required=True, help="why (recorded on the trail)")

    def handle(self, *args, action: str, **options):
        if action == "list":
            for key in AgentKey.objects.order_by("credential_id", "pinned_at"):
                state = (
                    f"retired {key.retired_at:%Y-%m-%d %H:%M} by {key.retired_by}"
                    if (key.retired_at)
                    else "live"
                )
                self.stdout.write(
                    f"credential {key.credential_id}  {key.agent_id}  {key.fingerprint}  "
                    f"pinned {key.pinned_at:%Y-%m-%d %H:%M} ({key.how})  {state}"
                )
            return
        try:
            key = retire_agent_key(options["credential"], options["by"], options["reason"])
        except KeyChangeRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"retired key {key.fingerprint} of credential {key.credential_id} "
            f"({key.agent_id}); its next signed batch pins the key it carries"
        )
