"""The agent key of a journal and the signed head format, against the shared vectors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agents_sdk.audit.head_signing import (
    HeadKeyError,
    HeadSigner,
    InvalidHeadSignature,
    head_message,
    key_path,
    load_key,
    read_wire_head,
    verify_head,
)
from agents_sdk.audit.journal import JournalWriter
from agents_sdk.shipping.memory import InMemoryTransport
from agents_sdk.shipping.shipper import Shipper

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "head_signature_v1.json").read_text())
SIGNER = HeadSigner.from_seed(bytes.fromhex(VECTORS["seed_hex"]))


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["stream"])
def test_the_sdk_builds_and_signs_the_vector_message_byte_for_byte(vector):
    message = head_message(vector["agent_id"], vector["stream"], vector["seq"], vector["hash"])
    assert message == bytes.fromhex(vector["message_hex"]) == vector["message"].encode()
    assert SIGNER.public_key.hex() == VECTORS["public_key_hex"]
    signed = SIGNER.sign(vector["agent_id"], vector["stream"], vector["seq"], vector["hash"])
    assert signed.signature.hex() == vector["signature_hex"]  # Ed25519 is deterministic
    assert signed.as_wire() == vector["wire"]
    verify_head(read_wire_head(vector["wire"]), vector["agent_id"])


@pytest.mark.parametrize("vector", VECTORS["vectors"][:1])
def test_a_vector_head_for_another_agent_or_seq_does_not_verify(vector):
    head = read_wire_head(vector["wire"])
    with pytest.raises(InvalidHeadSignature, match="does not verify"):
        verify_head(head, "another-agent")
    moved = read_wire_head({**vector["wire"], "seq": vector["seq"] + 1})
    with pytest.raises(InvalidHeadSignature, match="does not verify"):
        verify_head(moved, vector["agent_id"])
    other = HeadSigner.from_seed(b"\x09" * 32)
    with pytest.raises(InvalidHeadSignature, match="not the pinned key"):
        verify_head(head, vector["agent_id"], other.public_key)


def test_the_message_refuses_what_would_make_it_ambiguous():
    with pytest.raises(InvalidHeadSignature):
        head_message("agent 7", "s", 0, "00" * 32)
    with pytest.raises(InvalidHeadSignature):
        head_message("a", "s\nseq 9", 0, "00" * 32)
    with pytest.raises(InvalidHeadSignature):
        head_message("a", "s", -1, "00" * 32)
    with pytest.raises(InvalidHeadSignature):
        head_message("a", "s", 0, "AB" * 32)


def test_a_journal_is_created_with_its_key_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "agent.jsonl"
    old = os.umask(0)  # even a permissive umask leaves the key private
    try:
        with JournalWriter(path, "agent-1") as journal:
            assert journal.key_created and not journal.key_upgraded
            journal.append("tool_execute")
    finally:
        os.umask(old)
    assert key_path(path).stat().st_mode & 0o777 == 0o600
    assert key_path(path).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    with JournalWriter(path, "agent-1") as journal:  # reopened: the same key, none created
        assert not journal.key_created
        assert journal.head_signer.public_key == load_key(path).public_key


def test_a_key_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "agent.jsonl"
    JournalWriter(path, "agent-1").close()
    key_path(path).chmod(0o644)
    with pytest.raises(HeadKeyError, match="readable by others"):
        JournalWriter(path, "agent-1")


def test_an_old_journal_gets_a_key_on_reopen_and_says_so(tmp_path, caplog):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1", head_key=False) as journal:
        journal.append("tool_execute")
    assert not key_path(path).exists()
    with JournalWriter(path, "agent-1") as journal:
        assert journal.key_created and journal.key_upgraded
    assert "predates agent-signed heads" in caplog.text


def test_the_shipper_signs_once_per_batch_and_never_ships_the_key(tmp_path):
    path = tmp_path / "agent.jsonl"
    with JournalWriter(path, "agent-1") as journal:
        events = [journal.append("tool_execute", details={"i": i}) for i in range(7)]
    transport = InMemoryTransport()
    shipper = Shipper(path, transport, batch_size=3)
    assert shipper.drain(deadline=None)
    assert len(transport.heads) == 3  # batches of 3, 3, 1: one signature each
    for head, last in zip(transport.heads, (events[2], events[5], events[6]), strict=True):
        assert (head["stream"], head["seq"], head["hash"]) == (
            last["stream"],
            last["seq"],
            last["hash"],
        )
        verify_head(read_wire_head(head), "agent-1", load_key(path).public_key)
    secret = key_path(path).read_bytes()
    batch = shipper.read_batch(shipper.cursor.position.__class__(0, 0))
    assert secret not in batch.ingest_body()
    assert b"PRIVATE" not in batch.ingest_body()
