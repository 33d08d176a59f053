"""`manage.py audit_partitions [--ahead N]`: create the audit table's month partitions
ahead (what the beat job does) and list them; PostgreSQL only, a no-op on SQLite."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from obsportal.ingest import partitions


class Command(BaseCommand):
    help = "Create this month's audit partition and the next N; list the month partitions."

    def add_arguments(self, parser):
        parser.add_argument("--ahead", type=int, default=None, help="months ahead (setting)")

    def handle(self, *args, ahead=None, **options):
        if not partitions.is_partitioned():
            self.stdout.write("the audit table is not partitioned here (SQLite): nothing to do")
            return
        for name in partitions.create_partitions_ahead(ahead):
            self.stdout.write(f"created {name}")
        for month in partitions.month_partitions():
            self.stdout.write(f"{month.name}: {month.lower:%Y-%m-%d} .. {month.upper:%Y-%m-%d}")
