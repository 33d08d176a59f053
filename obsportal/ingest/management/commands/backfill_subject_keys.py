from django.core.management.base import BaseCommand

from obsportal.ingest.subjects import backfill_subject_keys


class Command(BaseCommand):
    help = (
        "Give audit rows and personal-data sidecars stored before subject keys existed "
        "their subject key (resumable; rows that have one are left as they are)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=5000)

    def handle(self, *args, **options):
        filled = backfill_subject_keys(options["chunk_size"])
        self.stdout.write(f"subject keys filled on {filled} row(s)")
