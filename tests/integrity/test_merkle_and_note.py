"""RFC 6962 hashing and proofs, and the C2SP checkpoint / signed-note format."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from agents_sdk.offline.checkpoint import (
    CheckpointError,
    checkpoint_body,
    head_leaf_bytes,
    key_id,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
    signer_from_private,
    verifier_key,
    verify_checkpoint,
)
from agents_sdk.offline.merkle import (
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(
        b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])
    ).digest()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31])
def test_root_matches_the_rfc_definition(size):
    leaves = [f"leaf {i}".encode() for i in range(size)]
    assert root_from_leaf_hashes([leaf_hash(x) for x in leaves]) == reference_root(leaves)


def test_known_root_of_the_empty_tree():
    assert root_from_leaf_hashes([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not(size, data):
    hashes = [leaf_hash(str(i).encode()) for i in range(size)]
    root = root_from_leaf_hashes(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = inclusion_proof(index, hashes)
    assert verify_inclusion(index, size, hashes[index], proof, root)
    assert not verify_inclusion(index, size, leaf_hash(b"forged"), proof, root)
    if size > 1:
        other = (index + 1) % size
        assert not verify_inclusion(other, size, hashes[index], proof, root)


def test_head_leaf_bytes_are_canonical_json():
    assert head_leaf_bytes("s-1", 41, "ab" * 32) == (
        b'{"hash":"' + b"ab" * 32 + b'","seq":41,"stream":"s-1"}'
    )


def test_signed_note_follows_c2sp_and_verifies_with_cryptography():
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    name = "example.org/log"
    body = checkpoint_body(name, 3, b"\x07" * 32, ["timestamp 2026-01-01T00:00:00.000000Z"])
    note = sign_note(body, name, signer_from_private(private))
    lines = note.split("\n")
    assert lines[:5] == [
        name,
        "3",
        base64.b64encode(b"\x07" * 32).decode(),
        "timestamp 2026-01-01T00:00:00.000000Z",
        "",
    ]
    assert lines[5].startswith("\u2014 example.org/log ") and lines[6] == ""
    blob = base64.b64decode(lines[5].split(" ")[2])
    assert blob[:4] == hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    private.public_key().verify(blob[4:], body.encode())  # raises if not the note text
    checkpoint = verify_checkpoint(note, name, public)
    assert (checkpoint.size, checkpoint.root) == (3, b"\x07" * 32)
    assert parse_verifier_key(verifier_key(name, public)) == (name, public)
    assert verifier_key(name, public).startswith(f"{name}+{key_id(name, public).hex()}+")


def test_a_changed_note_or_another_key_fails():
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    note = sign_note(checkpoint_body("o", 1, b"\x01" * 32, []), "o", signer_from_private(private))
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(note.replace("\n1\n", "\n2\n", 1), "o", public)
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(CheckpointError, match="no signature by the key"):
        open_note(note, "o", stranger)
    with pytest.raises(CheckpointError):
        parse_checkpoint("o\n01\nAAAA\n")
