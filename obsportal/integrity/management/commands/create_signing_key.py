"""`manage.py create_signing_key`: make the checkpoint key on first setup (never overwrites)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from obsportal.integrity.signing import SigningKeyExists, create_signing_key


class Command(BaseCommand):
    help = "Create the Ed25519 checkpoint signing key file (OBSPORTAL_SIGNING_KEY_FILE)."

    def add_arguments(self, parser):
        parser.add_argument("--path", help="where to write it (default: the setting)")

    def handle(self, *args, **options):
        try:
            key = create_signing_key(Path(options["path"]) if options["path"] else None)
        except SigningKeyExists as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"created the checkpoint signing key; verifier key:\n{key.verifier_key}")
