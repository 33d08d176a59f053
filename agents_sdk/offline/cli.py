"""The `verify-bundle` subcommand, for `python -m agents_sdk.offline` and `agents-sdk`."""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

EXIT_VERIFIED, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2


HELP = "verify an evidence bundle offline (events, links, signed checkpoints)"
DESCRIPTION = "Exit code 0: everything verified; 1: a problem was found; 2: unreadable."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the bundle (.json, or a .zip holding bundle.json)")
    parser.add_argument(
        "--key",
        help="the portal's note verifier key (name+keyid+base64) or a file holding it; "
        "without it the key carried by the bundle is used",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `verify-bundle FILE [--key VERIFIER_KEY]` to an argparse subparsers object.

    For the `agents-sdk` command registry: `Command("verify-bundle", HELP,
    add_arguments, run_verify_bundle, DESCRIPTION)`.
    """
    parser = subparsers.add_parser("verify-bundle", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run_verify_bundle)
    return parser


def load_bundle(path: Path) -> Any:
    data = path.read_bytes()
    if data[:2] == b"PK":
        with zipfile.ZipFile(path) as archive:
            data = archive.read("bundle.json")
    return json.loads(data)


def run_verify_bundle(args: argparse.Namespace) -> int:
    try:  # imported here so that registering the command costs nothing
        from agents_sdk.offline.bundle import BundleUnreadable, verify_bundle
    except ImportError as exc:  # `cryptography` is an optional dependency of the SDK
        print(
            f"verify-bundle needs the 'cryptography' package ({exc}); "
            "install it with: pip install 'agents-sdk[offline]'",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    key = args.key
    if key and Path(key).is_file():
        key = Path(key).read_text().strip()
    try:
        report = verify_bundle(load_bundle(Path(args.file)), trusted_key=key)
    except (OSError, ValueError, BundleUnreadable, zipfile.BadZipFile) as exc:
        print(f"cannot read the bundle {args.file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # A field of the wrong shape: the file is not a bundle this tool wrote.
        print(f"malformed bundle {args.file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    for line in report.lines:
        print(line)
    if report.ok:
        print(
            f"VERIFIED: {report.selected_verified} of {report.selected} selected events; "
            f"{report.selected_in_checkpoint} chained to a signed checkpoint head"
        )
        return EXIT_VERIFIED
    print(f"FAILED: {len(report.problems)} problem(s); first: {report.problems[0]}")
    return EXIT_PROBLEMS
