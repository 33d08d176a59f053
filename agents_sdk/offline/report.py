"""Offline check of a signed compliance report (`report.json` of obsportal's reports).

The report is one JSON document in RFC 8785 canonical form; its `signature` member is an
Ed25519 signature, by the portal's checkpoint key, over the canonical form of the document
without that member. A verifier therefore refuses any changed byte (the file is no longer
canonical, or the signature fails), a removed section (the signature fails, and the header's
section list names it), and a document re-signed by another key (its key id is not a pinned
key's). The attached data files are checked against the SHA-256 the document lists.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from agents_sdk.audit.canonical import canonicalize
from agents_sdk.offline.checkpoint import CheckpointError, key_id, parse_verifier_key
from agents_sdk.offline.findings import Findings
from agents_sdk.offline.signed_json import signature_verifies, unsigned_bytes

__all__ = [
    "REPORT_FORMAT",
    "SIGNED",
    "ReportCheck",
    "ReportUnreadable",
    "sign_document",
    "unsigned_bytes",
    "verify_report",
]

REPORT_FORMAT = "obsportal-report/1"
SIGNED = "RFC 8785 canonical JSON of this document without its signature member"


class ReportUnreadable(ValueError):
    """Not a report this tool can read (not JSON, not the report format)."""


@dataclass
class ReportCheck(Findings):
    signed_by_pinned_key: bool = False

    @property
    def trusted(self) -> bool:
        return self.signed_by_pinned_key

    def verdict(self) -> str:
        if self.problems:
            return f"REFUSED: {len(self.problems)} problem(s)"
        if not self.signed_by_pinned_key:
            return "UNPINNED: the signature verifies, but no pinned portal key was given (--key)"
        return "VERIFIED: signed by the pinned portal key; every check passed"


def sign_document(
    document: dict[str, Any], name: str, sign: Callable[[bytes], bytes], public: bytes
) -> bytes:
    """The report file: `document` with its signature, canonical (the portal's side)."""
    signature = sign(unsigned_bytes(document))
    signed = {
        **document,
        "signature": {
            "algorithm": "Ed25519",
            "signed": SIGNED,
            "key_name": name,
            "key_id": key_id(name, public).hex(),
            "value": base64.b64encode(signature).decode(),
        },
    }
    return canonicalize(signed)


def _pinned(pinned_keys: Iterable[str], report: ReportCheck) -> dict[str, tuple[str, bytes]]:
    keys = {}
    for text in pinned_keys:
        try:
            name, public = parse_verifier_key(text)
        except CheckpointError as exc:
            report.problem(f"the pinned key is not usable: {exc}")
            continue
        keys[key_id(name, public).hex()] = (name, public)
    return keys


def verify_report(
    data: bytes,
    pinned_keys: Iterable[str] = (),
    open_file: Callable[[str], IO[bytes] | None] | None = None,
) -> ReportCheck:
    """Check a report's bytes; `open_file(name)` opens an attached data file, or None if absent."""
    report = ReportCheck()
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ReportUnreadable(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != REPORT_FORMAT:
        raise ReportUnreadable(f"not a report of format {REPORT_FORMAT}")
    header = document.get("header") or {}
    report.say(
        f"report: {header.get('framework', {}).get('title')} over "
        f"[{header.get('period', {}).get('since')}, {header.get('period', {}).get('until')})"
    )
    if data.rstrip(b"\n") != canonicalize(document):
        report.problem("the file is not the canonical form that was signed: a byte was changed")
    _signature(document, _pinned(pinned_keys, report), report)
    _sections(document, header, report)
    _files(document, open_file, report)
    return report


def _signature(
    document: dict[str, Any], keys: dict[str, tuple[str, bytes]], report: ReportCheck
) -> None:
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != "Ed25519":
        report.problem("the report carries no Ed25519 signature")
        return
    kid = str(signature.get("key_id"))
    try:
        raw = base64.b64decode(str(signature.get("value")), validate=True)
    except ValueError:
        report.problem("the signature is not base64")
        return
    if kid not in keys:
        if keys:
            report.problem(f"signed by key {kid}, which is not a pinned portal key")
        else:
            report.say(f"signed by key {kid} ({signature.get('key_name')}); no key pinned")
        return
    name, public = keys[kid]
    if not signature_verifies(document, raw, public):
        report.problem(f"the signature by {name} ({kid}) does not verify: the report was changed")
        return
    report.signed_by_pinned_key = True
    report.say(f"signature: Ed25519 by {name} ({kid}) verifies")


def _sections(document: dict[str, Any], header: dict[str, Any], report: ReportCheck) -> None:
    listed = [s.get("key") for s in header.get("sections", [])]
    present = [s.get("key") for s in document.get("sections", [])]
    for key in listed:
        if key not in present:
            report.problem(f"section {key!r} listed in the header is missing")
    for key in present:
        if key not in listed:
            report.problem(f"section {key!r} is not listed in the header")
    report.say(f"sections: {len(present)} present, {len(listed)} listed")


def _files(
    document: dict[str, Any],
    open_file: Callable[[str], IO[bytes] | None] | None,
    report: ReportCheck,
) -> None:
    files = document.get("files", [])
    checked = absent = 0
    for entry in files:
        handle = open_file(entry["name"]) if open_file else None
        if handle is None:
            absent += 1
            continue
        digest = hashlib.sha256()
        with handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        checked += 1
        if digest.hexdigest() != entry.get("sha256"):
            report.problem(f"attached file {entry['name']} does not match its SHA-256")
    report.say(f"attached files: {len(files)} listed, {checked} checked, {absent} not at hand")
