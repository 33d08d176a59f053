"""The portal's Ed25519 checkpoint key: read from a file or the environment, never the database."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from agents_sdk.offline.checkpoint import key_id, verifier_key

KEY_ENV = "OBSPORTAL_SIGNING_KEY"


class SigningKeyMissing(Exception):
    """No signing key is configured; `manage.py create_signing_key` makes one."""


class SigningKeyExists(Exception):
    """Creating a key would overwrite an existing one."""


@dataclass(frozen=True)
class SigningKey:
    name: str
    private: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def key_id(self) -> str:
        return key_id(self.name, self.public_bytes).hex()

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.name, self.public_bytes)

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


def key_name() -> str:
    return settings.OBSPORTAL_CHECKPOINT_ORIGIN


def _parse_private(text: bytes) -> Ed25519PrivateKey:
    """Accept a PKCS#8 PEM key, or base64 of the 32-byte Ed25519 seed (handy in env vars)."""
    if b"BEGIN" in text:
        key = serialization.load_pem_private_key(text, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key is not an Ed25519 key")
        return key
    seed = base64.b64decode(text.strip(), validate=True)
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_signing_key() -> SigningKey:
    """The key from $OBSPORTAL_SIGNING_KEY, else from OBSPORTAL_SIGNING_KEY_FILE."""
    env = os.environ.get(KEY_ENV)
    if env:
        return SigningKey(key_name(), _parse_private(env.encode()))
    path = Path(settings.OBSPORTAL_SIGNING_KEY_FILE)
    if not path.is_file():
        raise SigningKeyMissing(
            f"no checkpoint signing key at {path} and ${KEY_ENV} is unset; "
            "create one with `manage.py create_signing_key`"
        )
    return SigningKey(key_name(), _parse_private(path.read_bytes()))


def create_signing_key(path: Path | None = None) -> SigningKey:
    """Write a new key (PKCS#8 PEM, mode 0600); refuse to overwrite an existing file."""
    path = Path(path or settings.OBSPORTAL_SIGNING_KEY_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningKeyExists(
            f"{path} already exists; refusing to overwrite a signing key"
        ) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return SigningKey(key_name(), private)
