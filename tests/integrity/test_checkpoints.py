"""Signing checkpoints: the key stays outside the database, copies land on disk, proofs verify."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from agents_sdk.offline.checkpoint import head_leaf_hash, verify_checkpoint
from agents_sdk.offline.merkle import verify_inclusion
from obsportal.integrity import tasks
from obsportal.integrity.checkpoints import inclusion_proof_of, sign_checkpoint
from obsportal.integrity.models import Checkpoint
from obsportal.integrity.signing import SigningKeyMissing, load_signing_key


def test_create_signing_key_writes_a_private_file_and_refuses_to_overwrite(signing_key, capsys):
    path = settings.OBSPORTAL_SIGNING_KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(CommandError, match="refusing to overwrite"):
        call_command("create_signing_key")
    assert path.read_bytes() == before


def test_the_key_can_come_from_the_environment(settings, tmp_path, monkeypatch):
    settings.OBSPORTAL_SIGNING_KEY_FILE = tmp_path / "absent.key"
    monkeypatch.delenv("OBSPORTAL_SIGNING_KEY", raising=False)
    with pytest.raises(SigningKeyMissing, match="create_signing_key"):
        load_signing_key()
    monkeypatch.setenv("OBSPORTAL_SIGNING_KEY", base64.b64encode(b"\x05" * 32).decode())
    assert len(load_signing_key().public_bytes) == 32


def test_a_checkpoint_signs_every_head_and_is_copied_outside_the_database(two_chains):
    checkpoint = two_chains["checkpoint"]
    key = load_signing_key()
    signed = verify_checkpoint(checkpoint.note, key.name, key.public_bytes)
    assert signed.size == 2 and signed.root.hex() == checkpoint.root_hash
    assert signed.extension("timestamp")
    copy = settings.OBSPORTAL_CHECKPOINT_DIR / f"checkpoint-{checkpoint.number:08d}.note"
    assert copy.read_text() == checkpoint.note
    leaves = json.loads(copy.with_suffix(".json").read_text())["heads"]
    assert {h["stream"]: h["seq"] for h in leaves} == {
        two_chains["a"][0]["stream"]: 9,
        two_chains["b"][0]["stream"]: 9,
    }


def test_a_checkpoint_is_issued_even_when_nothing_changed(two_chains):
    again = sign_checkpoint()
    assert again.number == two_chains["checkpoint"].number + 1
    assert again.root_hash == two_chains["checkpoint"].root_hash


def test_the_inclusion_proof_of_a_head_verifies_against_the_signed_root(two_chains):
    checkpoint, head = two_chains["checkpoint"], two_chains["b"][-1]
    proof = inclusion_proof_of(checkpoint, head["stream"])
    assert (proof["seq"], proof["hash"]) == (9, head["hash"])
    assert verify_inclusion(
        proof["index"],
        proof["tree_size"],
        head_leaf_hash(head["stream"], 9, head["hash"]),
        [base64.b64decode(p) for p in proof["proof"]],
        bytes.fromhex(checkpoint.root_hash),
    )


def test_the_command_and_the_beat_tasks_sign_and_verify(two_chains, capsys):
    call_command("sign_checkpoint")
    assert "checkpoint" in capsys.readouterr().out
    assert tasks.sign_checkpoint.apply().get()["tree_size"] == 2
    assert tasks.verify_streams.apply().get()["status"] == "verified"
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled >= {tasks.sign_checkpoint.name, tasks.verify_streams.name}
    assert Checkpoint.objects.count() == 3


def test_without_a_key_the_command_says_how_to_make_one(db, settings, tmp_path, monkeypatch):
    settings.OBSPORTAL_SIGNING_KEY_FILE = tmp_path / "none.key"
    monkeypatch.delenv("OBSPORTAL_SIGNING_KEY", raising=False)
    with pytest.raises(CommandError, match="create_signing_key"):
        call_command("sign_checkpoint")
    assert not Checkpoint.objects.exists()


def test_verification_without_the_key_reports_unchecked_checkpoints(two_chains, monkeypatch):
    from obsportal.integrity.verification import verify_streams

    settings.OBSPORTAL_SIGNING_KEY_FILE.unlink()
    run = verify_streams()
    assert run.status == "problems"
    assert "checkpoint signatures cannot be checked" in run.checkpoint_problems[0]
