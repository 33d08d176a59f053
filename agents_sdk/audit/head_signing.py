"""Agent-signed stream heads: each journal's Ed25519 key, and the signed message format.

Each journal has its own key, created with it as `<journal>.key` (PKCS#8 PEM, mode 0600),
kept beside it and never shipped. The shipper signs the head of every batch it ships
(per batch, not per event: the hot path never signs); the portal pins the key to the
agent's ingest credential on first use and verifies the latest signed head of every
stream, so whoever operates the portal cannot fabricate, extend or rewrite a stream
without this key.

The signed message, version 1 (`HEAD_FORMAT`), is these five lines of ASCII/UTF-8, each
ended by one LF (0x0A), nothing before or after:

    obsportal/stream-head/v1
    agent <agent_id>
    stream <stream>
    seq <seq in decimal, no sign, no leading zeros>
    hash <64 lowercase hex digits>

The first line separates this use of the key from any other (a key that signs heads
signs nothing else) and names the version; `agent_id` and `stream` are envelope-v1
identifiers (no space, no LF), so the message reads back unambiguously. The signature
is plain Ed25519 (RFC 8032) over those bytes. On the wire a head travels as

    {"v": 1, "stream": s, "seq": n, "hash": h,
     "key": base64(32-byte public key), "sig": base64(64-byte signature)}

`tests/vectors/head_signature_v1.json` holds a worked example with a fixed seed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents_sdk.audit.chain import IDENTIFIER

if TYPE_CHECKING:  # cryptography is imported only when a key is used
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HEAD_FORMAT = "obsportal/stream-head/v1"
HEAD_VERSION = 1
_HEX = frozenset("0123456789abcdef")


class HeadKeyError(Exception):
    """A journal's key cannot be used: unreadable, not Ed25519, or readable by others."""


class InvalidHeadSignature(ValueError):
    """A signed head that does not verify, or is not one (the message says which)."""


def key_path(journal: str | os.PathLike[str]) -> Path:
    """Where a journal's key lives: beside it, `<journal>.key`."""
    path = Path(journal)
    return path.with_name(path.name + ".key")


def head_message(agent_id: str, stream: str, seq: int, hash: str) -> bytes:
    """The exact bytes an agent signs for its stream head (format v1, above)."""
    if not isinstance(agent_id, str) or not IDENTIFIER.match(agent_id):
        raise InvalidHeadSignature(f"agent_id {agent_id!r} is not an envelope identifier")
    if not isinstance(stream, str) or not IDENTIFIER.match(stream):
        raise InvalidHeadSignature(f"stream {stream!r} is not an envelope identifier")
    if type(seq) is not int or seq < 0:
        raise InvalidHeadSignature(f"seq {seq!r} is not a position in a chain")
    if not isinstance(hash, str) or len(hash) != 64 or not _HEX.issuperset(hash):
        raise InvalidHeadSignature("hash must be 64 lowercase hex digits")
    return (f"{HEAD_FORMAT}\nagent {agent_id}\nstream {stream}\nseq {seq}\nhash {hash}\n").encode()


def key_fingerprint(public: bytes) -> str:
    """A short, stable name of a public key: `sha256:` and 16 hex digits of its digest."""
    return "sha256:" + hashlib.sha256(public).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A stream head and the agent's signature over it, as verified."""

    stream: str
    seq: int
    hash: str
    public_key: bytes
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)

    def as_wire(self) -> dict[str, Any]:
        return {
            "v": HEAD_VERSION,
            "stream": self.stream,
            "seq": self.seq,
            "hash": self.hash,
            "key": base64.b64encode(self.public_key).decode(),
            "sig": base64.b64encode(self.signature).decode(),
        }


class HeadSigner:
    """Signs a journal's heads with its agent key."""

    def __init__(self, private: Ed25519PrivateKey):
        self._private = private
        self.public_key = private.public_key().public_bytes_raw()

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)

    def sign(self, agent_id: str, stream: str, seq: int, hash: str) -> SignedHead:
        signature = self._private.sign(head_message(agent_id, stream, seq, hash))
        return SignedHead(stream, seq, hash, self.public_key, signature)

    @classmethod
    def from_seed(cls, seed: bytes) -> HeadSigner:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.from_private_bytes(seed))


def create_key(journal: str | os.PathLike[str]) -> HeadSigner:
    """Create `<journal>.key` (mode 0600, refused if it exists) and return its signer."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = key_path(journal)
    # O_EXCL: two openers never both create a key (one of them would sign with a lost one).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_directory(path.parent)
    return HeadSigner(private)


def load_key(journal: str | os.PathLike[str]) -> HeadSigner | None:
    """The signer of `<journal>.key`; None when the journal has no key (it predates them)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = key_path(journal)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise HeadKeyError(
                f"the agent key {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
                f"run `chmod 600 {path}`: whoever reads it can sign this agent's heads"
            )
        data = handle.read()
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise HeadKeyError(f"the agent key {path} is not a PEM private key: {exc}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise HeadKeyError(f"the agent key {path} is not an Ed25519 key")
    return HeadSigner(private)


def open_key(journal: str | os.PathLike[str], *, create: bool) -> tuple[HeadSigner | None, bool]:
    """(signer, created): the journal's key, created first when `create` and it has none."""
    signer = load_key(journal)
    if signer is not None or not create:
        return signer, False
    try:
        return create_key(journal), True
    except FileExistsError:  # created meanwhile by another opener
        return load_key(journal), False


def read_wire_head(head: Any) -> SignedHead:
    """A head as it arrives (`SignedHead.as_wire`), checked for shape; not yet verified."""
    if not isinstance(head, dict):
        raise InvalidHeadSignature("a signed head must be an object")
    if head.get("v") != HEAD_VERSION:
        raise InvalidHeadSignature(
            f"signed head version {head.get('v')!r} is not supported (this reader knows "
            f"{HEAD_VERSION})"
        )
    try:
        public = base64.b64decode(head["key"], validate=True)
        signature = base64.b64decode(head["sig"], validate=True)
        stream, seq, digest = head["stream"], head["seq"], head["hash"]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidHeadSignature(
            f"a signed head needs stream, seq, hash, key, sig: {exc}"
        ) from None
    if len(public) != 32 or len(signature) != 64:
        raise InvalidHeadSignature("a signed head's key must be 32 bytes, its sig 64 bytes")
    return SignedHead(stream, seq, digest, public, signature)


def verify_head(head: SignedHead, agent_id: str, public_key: bytes | None = None) -> None:
    """Check the signature of `head` for `agent_id`, with `public_key` if given (a pinned
    key) else the key the head carries; InvalidHeadSignature says why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = public_key if public_key is not None else head.public_key
    if key != head.public_key:
        raise InvalidHeadSignature(
            f"the head is signed with key {key_fingerprint(head.public_key)}, not the pinned "
            f"key {key_fingerprint(key)}"
        )
    message = head_message(agent_id, head.stream, head.seq, head.hash)
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(head.signature, message)
    except InvalidSignature:
        raise InvalidHeadSignature(
            f"the signature over stream {head.stream} seq {head.seq} does not verify with key "
            f"{key_fingerprint(key)}"
        ) from None


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
