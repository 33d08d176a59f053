"""The JSON of the whole report: canonical (RFC 8785) and signed by the portal's key."""

from __future__ import annotations

from typing import Any

from agents_sdk.offline.report import sign_document


def signed_json(document: dict[str, Any], key: Any) -> bytes:
    """`key` is the portal's SigningKey (obsportal.integrity.signing)."""
    return sign_document(document, key.name, key.private.sign, key.public_bytes)
