"""`manage.py recover_trail`: store what dead processes' trail journals hold, the database not."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from obsportal.trail.recovery import recover_trail_journals


class Command(BaseCommand):
    help = (
        "Store in the database the trail events that portal processes wrote to their journals "
        "but did not copy before they died (kill -9, a crash). Journals of live processes are "
        "left to them. Exit 1 when a journal could not be recovered."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--directory",
            type=Path,
            help="the trail's journal directory (default: OBSPORTAL_TRAIL_JOURNAL_DIR)",
        )
        parser.add_argument(
            "--recheck",
            action="store_true",
            help="read again the journals already found complete (after restoring the database)",
        )

    def handle(self, *args, directory: Path | None = None, recheck: bool = False, **options):
        found = recover_trail_journals(
            directory, progress=lambda line: self.stderr.write(line), recheck=recheck
        )
        self.stdout.write(found.summary())
        for journal, reason in found.failed.items():
            self.stderr.write(f"{journal}: {reason}")
        if found.failed:
            raise SystemExit(1)
