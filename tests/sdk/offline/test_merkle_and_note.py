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


# The known-answer vector of Go's golang.org/x/mod/sumdb/note (an independent
# implementation of the signed-note format).
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER_SEED = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # base64(0x01 || seed)
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_sumdb_note_vector_opens_and_is_reproduced_byte_for_byte():
    name, public = parse_verifier_key(GO_VERIFIER_KEY)
    assert name == "PeterNeumann" and key_id(name, public).hex() == "c74f20a3"
    assert open_note(GO_NOTE, name, public) == GO_TEXT
    seed = base64.b64decode(GO_SIGNER_SEED)[1:]
    private = Ed25519PrivateKey.from_private_bytes(seed)
    assert private.public_key().public_bytes_raw() == public
    assert sign_note(GO_TEXT, name, signer_from_private(private)) == GO_NOTE


def test_a_verifier_key_whose_base64_holds_a_plus_parses():
    name, public = parse_verifier_key("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert name == "TEST" and len(public) == 32


# The RFC 6962 test tree of certificate-transparency (leaf inputs in hex, the root
# of the first n leaves for n = 1..8): a known-answer check of leaf/node hashing.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_certificate_transparency_known_roots():
    hashes = [leaf_hash(bytes.fromhex(leaf)) for leaf in CT_LEAVES]
    assert [root_from_leaf_hashes(hashes[:n]).hex() for n in range(1, 9)] == CT_ROOTS
