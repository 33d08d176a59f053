import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from obsportal.accounts.roles import USER_ROLES
from obsportal.accounts.services import AccountChangeRefused, create_portal_user


def _moment(text: str | None):
    if text is None:
        return None
    moment = parse_datetime(text)
    if moment is None or moment.tzinfo is None:
        raise CommandError(
            f"{text!r} is not an ISO 8601 time with its offset (e.g. 2026-12-31T00:00Z)"
        )
    return moment


class Command(BaseCommand):
    help = (
        "Create a portal user with a role. The password is read from standard input "
        "(--password-stdin) or generated and printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in USER_ROLES])
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        parser.add_argument(
            "--agents", default="", help="auditor scope: agent ids, comma-separated"
        )
        parser.add_argument("--since", help="auditor scope: events at or after (ISO 8601)")
        parser.add_argument("--until", help="auditor scope: events before (ISO 8601)")
        parser.add_argument("--expires", help="the role ends at this time (ISO 8601)")

    def handle(
        self, *args, username, role, email, password_stdin, agents, since, until, expires, **options
    ):
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("no password on standard input")
        try:
            user, generated = create_portal_user(
                username,
                role,
                email=email,
                password=password,
                scope_agents=[a.strip() for a in agents.split(",") if a.strip()],
                scope_since=_moment(since),
                scope_until=_moment(until),
                expires_at=_moment(expires),
            )
        except ValidationError as exc:
            raise CommandError("the password was refused: " + " ".join(exc.messages)) from exc
        except AccountChangeRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"created {user.get_username()} as {role}")
        if generated is not None:
            self.stderr.write("password (shown once, store it safely):")
            self.stdout.write(generated)
