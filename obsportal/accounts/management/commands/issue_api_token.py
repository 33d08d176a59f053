from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from obsportal.accounts.services import issue_api_token


class Command(BaseCommand):
    help = (
        "Issue a REST API token for a user (Authorization: Token <key>). The token is "
        "printed once; only its digest is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--days", type=int, default=None, help="expiry (default OBSPORTAL_API_TOKEN_DAYS)"
        )

    def handle(self, *args, username: str, days: int | None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"there is no user '{username}'")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        ttl = None if days is None else timedelta(days=days)
        self.stdout.write(issue_api_token(user, ttl))
