from django.core.management.base import BaseCommand, CommandError

from obsportal.accounts.services import AccountChangeRefused, issue_agent_token


class Command(BaseCommand):
    help = "Issue an ingest token for an agent. The token is printed once; store it safely."

    def add_arguments(self, parser):
        parser.add_argument("agent_id", help="the agent the token may write events for")
        parser.add_argument("--label", default="", help="a note to recognise the token by")

    def handle(self, *args, agent_id: str, label: str, **options):
        try:
            self.stdout.write(issue_agent_token(agent_id, label))
        except AccountChangeRefused as exc:
            raise CommandError(str(exc)) from exc
