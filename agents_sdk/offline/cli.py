"""The `verify-bundle` subcommand, for `python -m agents_sdk.offline` and `agents-sdk`."""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents_sdk.offline.findings import Findings

EXIT_VERIFIED, EXIT_PROBLEMS, EXIT_UNREADABLE, EXIT_NOT_PINNED = 0, 1, 2, 3

# The portal's note verifier key (or a file holding it), when --key is not given.
PORTAL_KEY_ENV = "AGENTS_SDK_PORTAL_KEY"
# A file of trusted portal keys, one verifier key a line, when neither is given.
DEFAULT_TRUST_FILE = Path("~/.config/agents-sdk/portal-keys").expanduser()

HELP = "verify an evidence bundle offline (events, links, completeness, signed checkpoints)"
DESCRIPTION = (
    "Exit code 0: verified against a pinned portal key; 1: a problem was found or the "
    "bundle was refused; 2: unreadable; 3: checks passed but the portal's key is not pinned "
    f"(--key, --trust-file, ${PORTAL_KEY_ENV} or {DEFAULT_TRUST_FILE})."
)


def add_key_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that pin the portal's key (read by `pinned_keys`)."""
    parser.add_argument(
        "--key",
        help="the portal's note verifier key (name+keyid+base64) or a file holding it",
    )
    parser.add_argument("--trust-file", help="a file of trusted portal keys, one a line")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the bundle (.jsonl, or a .zip holding bundle.jsonl)")
    add_key_arguments(parser)
    parser.add_argument(
        "--agent-key",
        action="append",
        default=[],
        help="the agent's head-signing public key (base64 or hex of its 32 bytes, or "
        "`agents-sdk agent-key JOURNAL`'s output); repeatable. Without it the key the "
        "bundle carries is used, and named in the verdict",
    )
    parser.add_argument(
        "--require-agent-signature",
        action="store_true",
        help="refuse a stream without an agent-signed head (a journal predating agent keys)",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `verify-bundle FILE [--key VERIFIER_KEY]` to an argparse subparsers object.

    For the `agents-sdk` command registry: `Command("verify-bundle", HELP,
    add_arguments, run_verify_bundle, DESCRIPTION)`.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify-bundle", help=HELP, description=DESCRIPTION
    )
    add_arguments(parser)
    parser.set_defaults(func=run_verify_bundle)
    return parser


def _key_text(value: str) -> str:
    path = Path(value).expanduser()
    return path.read_text().strip() if path.is_file() else value.strip()


def pinned_keys(args: argparse.Namespace) -> list[str]:
    """The trusted keys, from the first source given: --key, --trust-file, env, default file."""
    if getattr(args, "key", None):
        return [_key_text(args.key)]
    trust = getattr(args, "trust_file", None)
    if not trust and os.environ.get(PORTAL_KEY_ENV):
        return [_key_text(os.environ[PORTAL_KEY_ENV])]
    path = Path(trust) if trust else DEFAULT_TRUST_FILE
    if trust or path.is_file():
        lines = path.read_text().splitlines()
        return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return []


def agent_public_keys(args: argparse.Namespace) -> list[bytes]:
    """The raw 32-byte agent keys given with --agent-key (base64 or hex)."""
    import base64
    import binascii

    keys = []
    for value in getattr(args, "agent_key", None) or []:
        text = _key_text(value).splitlines()[0].strip() if _key_text(value) else ""
        try:
            raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 32:
            raise ValueError(f"--agent-key {value!r} is not a 32-byte Ed25519 key (base64 or hex)")
        keys.append(raw)
    return keys


def _first_bytes(path: Path, count: int) -> bytes:
    """The file's first bytes, which tell a zip (`PK`) or a PDF (`%PDF`) from JSON."""
    with path.open("rb") as handle:
        return handle.read(count)


def _needs_cryptography(command: str, error: ImportError) -> int:
    # `cryptography` is an optional dependency of the SDK.
    print(
        f"{command} needs the 'cryptography' package ({error}); "
        "install it with: pip install 'agents-sdk[offline]'",
        file=sys.stderr,
    )
    return EXIT_UNREADABLE


def _print_findings(findings: Findings) -> int:
    """Print a check's lines and verdict; its exit code."""
    for line in findings.lines:
        print(line)
    print(findings.verdict())
    if findings.problems:
        return EXIT_PROBLEMS
    return EXIT_VERIFIED if findings.ok else EXIT_NOT_PINNED


def bundle_lines(path: Path) -> Iterator[bytes]:
    """The bundle's lines, streamed from the file or from bundle.jsonl inside a zip."""
    if _first_bytes(path, 2) == b"PK":
        with zipfile.ZipFile(path) as archive, archive.open("bundle.jsonl") as member:
            yield from member
        return
    with path.open("rb") as handle:
        yield from handle


def run_verify_bundle(args: argparse.Namespace) -> int:
    try:  # imported here so that registering the command costs nothing
        from agents_sdk.offline.bundle import BundleUnreadable, verify_bundle
    except ImportError as exc:
        return _needs_cryptography("verify-bundle", exc)
    try:
        keys = pinned_keys(args)
        report = verify_bundle(
            bundle_lines(Path(args.file)),
            pinned_keys=keys,
            agent_keys=agent_public_keys(args),
            require_agent_signature=getattr(args, "require_agent_signature", False),
        )
    except (OSError, ValueError, BundleUnreadable, zipfile.BadZipFile, KeyError) as exc:
        print(f"cannot read the bundle {args.file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (TypeError, AttributeError, IndexError) as exc:
        # A field of the wrong shape: the file is not a bundle this tool wrote.
        print(f"malformed bundle {args.file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    return _print_findings(report)


REPORT_HELP = "verify a signed compliance report offline (signature, sections, attached files)"
REPORT_DESCRIPTION = (
    "FILE is report.json (its data files are looked for beside it), a .zip holding report.json "
    "and its files, or the report's PDF/A (needs pypdf to read its attachments). Exit code 0: "
    "verified against a pinned portal key; 1: refused; 2: unreadable; 3: no key pinned."
)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="report.json, a .zip of the report, or its PDF")
    add_key_arguments(parser)


def _report_sources(path: Path) -> tuple[bytes, Any]:
    """(report.json bytes, open_file) from a JSON file, a zip or a PDF's attachments."""
    magic = _first_bytes(path, 4)
    if magic[:2] == b"PK":
        archive = zipfile.ZipFile(path)
        names = set(archive.namelist())
        return archive.read("report.json"), lambda n: archive.open(n) if n in names else None
    if magic == b"%PDF":
        import io

        try:
            from pypdf import PdfReader  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise ValueError(
                "reading a PDF's attachments needs pypdf (pip install pypdf); "
                "or extract report.json from the PDF and verify that"
            ) from None
        attached = {name: data[0] for name, data in PdfReader(path).attachments.items()}
        if "report.json" not in attached:
            raise ValueError("the PDF carries no report.json attachment")
        return attached["report.json"], lambda n: io.BytesIO(attached[n]) if n in attached else None
    folder = path.parent

    def open_beside(name: str) -> Any:
        candidate = folder / Path(name).name
        return candidate.open("rb") if candidate.is_file() else None

    return path.read_bytes(), open_beside


def run_verify_report(args: argparse.Namespace) -> int:
    try:
        from agents_sdk.offline.report import ReportUnreadable, verify_report
    except ImportError as exc:
        return _needs_cryptography("verify-report", exc)
    try:
        data, open_file = _report_sources(Path(args.file))
        report = verify_report(data, pinned_keys(args), open_file)
    except (OSError, ValueError, ReportUnreadable, zipfile.BadZipFile, KeyError) as exc:
        print(f"cannot read the report {args.file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (TypeError, AttributeError) as exc:
        print(f"malformed report {args.file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    return _print_findings(report)
