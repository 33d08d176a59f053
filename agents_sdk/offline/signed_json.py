"""JSON objects signed in place: an Ed25519 signature over the RFC 8785 canonical form of the
object without its `signature` member (a compliance report, an erasure receipt)."""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agents_sdk.audit.canonical import canonicalize


def unsigned_bytes(document: dict[str, Any]) -> bytes:
    """The bytes the signature covers."""
    return canonicalize({k: v for k, v in document.items() if k != "signature"})


def signature_verifies(document: dict[str, Any], signature: bytes, public_key: bytes) -> bool:
    """True when `signature` is `public_key`'s Ed25519 signature of `unsigned_bytes(document)`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, unsigned_bytes(document))
    except (TypeError, ValueError, InvalidSignature):
        return False
    return True
