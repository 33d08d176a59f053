"""`manage.py sign_checkpoint`: sign the heads of all streams now."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.signing import SigningKeyMissing


class Command(BaseCommand):
    help = "Sign a C2SP checkpoint over the heads of all streams (also run by Celery beat)."

    def handle(self, *args, **options):
        try:
            checkpoint = sign_checkpoint()
        except SigningKeyMissing as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"checkpoint {checkpoint.number}: {checkpoint.tree_size} stream heads, "
            f"root {checkpoint.root_hash}"
        )
        self.stdout.write(checkpoint.note, ending="")
