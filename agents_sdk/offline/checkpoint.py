"""C2SP tlog-checkpoint text in a C2SP signed note, with Ed25519 signatures.

A checkpoint body is three lines — origin, tree size (decimal), base64 root
hash — then optional extension lines; the signed note appends a blank line and
`— <key name> <base64(key id || signature)>` lines. The key id is
SHA-256(key name || 0x0A || 0x01 || public key)[:4] (c2sp.org/signed-note).

A checkpoint leaf is one stream head. Its bytes are the RFC 8785 canonical
JSON of {"hash": <hex>, "seq": <int>, "stream": <id>}; leaves are ordered by
stream id (code point order, which is UTF-8 byte order).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agents_sdk.audit.canonical import canonicalize
from agents_sdk.offline.merkle import leaf_hash

ED25519_TYPE = b"\x01"
EM_DASH = "\u2014"


class CheckpointError(ValueError):
    """A checkpoint or signed note that cannot be parsed or does not verify."""


def head_leaf_bytes(stream: str, seq: int, head_hash: str) -> bytes:
    """The canonical leaf bytes of a stream head (see module docstring)."""
    return canonicalize({"hash": head_hash, "seq": seq, "stream": stream})


def head_leaf_hash(stream: str, seq: int, head_hash: str) -> bytes:
    return leaf_hash(head_leaf_bytes(stream, seq, head_hash))


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte signed-note key id of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The note verifier key string: `<name>+<hex key id>+<base64(0x01 || key)>`."""
    kid = key_id(name, public_key)
    return f"{name}+{kid.hex()}+{base64.b64encode(ED25519_TYPE + public_key).decode()}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """Return (name, 32-byte public key) from a verifier key string; check its key id."""
    try:
        name, kid_hex, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise CheckpointError(f"not a note verifier key: {text[:60]!r}") from exc
    if len(raw) != 33 or raw[:1] != ED25519_TYPE:
        raise CheckpointError("the verifier key is not an Ed25519 (type 0x01) key")
    if key_id(name, raw[1:]).hex() != kid_hex:
        raise CheckpointError("the verifier key's id does not match its name and key")
    return name, raw[1:]


def checkpoint_body(origin: str, size: int, root: bytes, extensions: list[str]) -> str:
    if not origin or "\n" in origin:
        raise CheckpointError("the origin must be one non-empty line")
    lines = [origin, str(size), base64.b64encode(root).decode(), *extensions]
    return "".join(line + "\n" for line in lines)


def sign_note(body: str, name: str, sign: Any) -> str:
    """Append a signature by `sign(bytes) -> 64-byte Ed25519 signature` to note text `body`."""
    public = sign.public_key
    signature = sign(body.encode())
    blob = base64.b64encode(key_id(name, public) + signature).decode()
    return f"{body}\n{EM_DASH} {name} {blob}\n"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: list[str] = field(default_factory=list)

    def extension(self, prefix: str) -> str | None:
        for line in self.extensions:
            if line.startswith(prefix + " "):
                return line[len(prefix) + 1 :]
        return None


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Return (note text, [(key name, signature blob)]) of a signed note."""
    if "\n\n" not in note or not note.endswith("\n"):
        raise CheckpointError("a signed note needs its text, a blank line and signature lines")
    cut = note.rindex("\n\n")
    text, signature_block = note[: cut + 1], note[cut + 2 :]
    signatures = []
    for line in signature_block.splitlines():
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise CheckpointError(f"malformed signature line {line[:60]!r}")
        try:
            name, encoded = line[len(prefix) :].split(" ")
            blob = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise CheckpointError(f"malformed signature line {line[:60]!r}") from exc
        if len(blob) < 5:
            raise CheckpointError("a signature is shorter than its key id")
        signatures.append((name, blob))
    if not signatures:
        raise CheckpointError("the note carries no signature")
    return text, signatures


def open_note(note: str, name: str, public_key: bytes) -> str:
    """Verify the note's signature by the known key; return the signed text."""
    text, signatures = split_note(note)
    kid = key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    found = False
    for sig_name, blob in signatures:
        if sig_name != name or blob[:4] != kid:
            continue  # signatures by other keys are ignored (signed-note spec)
        found = True
        try:
            verifier.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise CheckpointError(f"the signature by {name} does not verify") from None
    if not found:
        raise CheckpointError(f"the note carries no signature by the key {name}+{kid.hex()}")
    return text


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint body text (origin, size, root, extension lines)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint needs an origin, a size and a root hash line")
    origin, size_text, root_text, *extensions = lines[:-1]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError as exc:
        raise CheckpointError("the root hash is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("the root hash is not 32 bytes")
    if any(not line for line in extensions):
        raise CheckpointError("extension lines may not be empty")
    return Checkpoint(origin, int(size_text), root, extensions)


def verify_checkpoint(note: str, name: str, public_key: bytes) -> Checkpoint:
    return parse_checkpoint(open_note(note, name, public_key))


def signer_from_private(private_key: Any) -> object:
    """Wrap a `cryptography` Ed25519PrivateKey as a `sign` callable for `sign_note`."""

    class _Signer:
        public_key = private_key.public_key().public_bytes_raw()

        def __call__(self, message: bytes) -> bytes:
            signature: bytes = private_key.sign(message)
            return signature

    return _Signer()
