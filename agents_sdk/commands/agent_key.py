"""`agents-sdk agent-key JOURNAL`: print the public half of a journal's agent key.

Give it to an auditor (`verify-bundle --agent-key`) or compare it with the fingerprint the
portal pinned; the private key never leaves `<journal>.key`.
"""

from __future__ import annotations

import argparse
import base64

from agents_sdk.commands import Command, CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journal", help="the journal whose <journal>.key to read")


def run(args: argparse.Namespace) -> int:
    from agents_sdk.audit.head_signing import HeadKeyError, key_path, load_key

    try:
        signer = load_key(args.journal)
    except HeadKeyError as exc:
        raise CommandError(str(exc)) from None
    if signer is None:
        raise CommandError(
            f"{args.journal} has no agent key ({key_path(args.journal)}); the SDK creates one "
            "when it next opens the journal for writing"
        )
    print(base64.b64encode(signer.public_key).decode())
    print(f"fingerprint {signer.fingerprint}")
    return 0


COMMAND = Command(
    "agent-key",
    "print the public key (and fingerprint) of a journal's agent key",
    add_arguments,
    run,
    "The output's first line is what `verify-bundle --agent-key` takes.",
)
