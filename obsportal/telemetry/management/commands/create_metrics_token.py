from django.conf import settings
from django.core.management.base import BaseCommand

from obsportal.telemetry.exposition import create_scrape_token


class Command(BaseCommand):
    help = (
        "Write a random /metrics scrape token to OBSPORTAL_METRICS_TOKEN_FILE; Prometheus "
        "sends it as a bearer token (credentials_file)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="replace an existing token")
        parser.add_argument(
            "--mode",
            default="600",
            help="file mode in octal (compose: 644, for a Prometheus of another user)",
        )

    def handle(self, *args, force: bool, mode: str, **options):
        path = settings.OBSPORTAL_METRICS_TOKEN_FILE
        if path.exists() and not force:
            self.stdout.write(f"{path} exists; --force replaces it")
            return
        self.stdout.write(f"scrape token written to {create_scrape_token(int(mode, 8))}")
