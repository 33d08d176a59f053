"""Checkpoints form a chain: a missing, altered or reordered checkpoint, or a gap in the
schedule, is a finding; signing after a removed predecessor records an incident."""

from __future__ import annotations

import hashlib
import json
import shutil
import time

from django.conf import settings

from agents_sdk.offline.checkpoint import verify_checkpoint
from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.models import Checkpoint, CheckpointIncident
from obsportal.integrity.signing import load_signing_key
from obsportal.integrity.verification import verify_streams
from tests.support.chains import superuser_sql


def chain(count: int) -> list[Checkpoint]:
    return [sign_checkpoint() for _ in range(count)]


def test_each_checkpoint_signs_its_number_and_predecessor_in_the_note_and_the_copy(two_chains):
    first = two_chains["checkpoint"]
    second, third = chain(2)
    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert first.previous_hash == "0" * 64
    assert third.previous_hash == hashlib.sha256(second.note.encode()).hexdigest()
    key = load_signing_key()
    signed = verify_checkpoint(third.note, key.name, key.public_bytes)
    assert signed.extension("number") == "3"
    assert signed.extension("previous") == third.previous_hash
    copy = json.loads((settings.OBSPORTAL_CHECKPOINT_DIR / "checkpoint-00000003.json").read_text())
    assert (copy["checkpoint"], copy["previous"], copy["note"]) == (
        3,
        third.previous_hash,
        third.note,
    )
    assert verify_streams().status == "verified"


def test_a_deleted_checkpoint_is_reported_by_number(two_chains):
    chain(3)
    superuser_sql(("DELETE FROM integrity_checkpoint WHERE number = 2", ()))
    run = verify_streams()
    assert run.status == "problems"
    assert "checkpoint 2 missing from the database (checkpoint 3 follows 1)" in (
        run.checkpoint_problems
    )
    assert (
        "checkpoint 2 is missing from the database but its signed copy outside PostgreSQL verifies"
        in run.checkpoint_problems
    )


def test_an_altered_predecessor_hash_and_reordered_numbers_are_reported(two_chains):
    chain(2)
    superuser_sql(
        ("UPDATE integrity_checkpoint SET previous_hash = %s WHERE number = 2", ("f" * 64,)),
        ("UPDATE integrity_checkpoint SET number = 30 WHERE number = 3", ()),
        ("UPDATE integrity_checkpoint SET number = 3 WHERE number = 1", ()),
        ("UPDATE integrity_checkpoint SET number = 1 WHERE number = 30", ()),
    )
    problems = verify_streams().checkpoint_problems
    assert "checkpoint 2: the stored predecessor hash was altered" in problems
    assert "checkpoint 1: its note is signed as checkpoint 3: the checkpoint table was altered" in (
        problems
    )
    assert "checkpoint 3: its note is signed as checkpoint 1: the checkpoint table was altered" in (
        problems
    )


def test_a_gap_in_the_schedule_longer_than_two_intervals_is_reported(two_chains, settings):
    settings.OBSPORTAL_CHECKPOINT_INTERVAL = 0.2
    time.sleep(0.5)
    sign_checkpoint()
    problems = verify_streams().checkpoint_problems
    gaps = [p for p in problems if "no checkpoint was signed" in p]
    assert gaps and gaps[0].startswith("checkpoint 1: no checkpoint was signed before 2 for")
    assert "(the schedule is every 0.00333333 min)" in gaps[0]


def test_signing_after_every_row_and_copy_is_gone_records_an_incident(two_chains, tmp_path):
    chain(2)
    superuser_sql(
        ("DELETE FROM integrity_checkpointhead", ()), ("DELETE FROM integrity_checkpoint", ())
    )
    shutil.move(settings.OBSPORTAL_CHECKPOINT_DIR, tmp_path / "moved-away")
    fourth = sign_checkpoint()
    assert fourth.number == 4
    reasons = sorted(CheckpointIncident.objects.values_list("reason", flat=True))
    assert reasons == [
        "checkpoint 4: its predecessor 3 is missing from the checkpoint table, which holds no "
        "checkpoint: checkpoints were removed",
        "checkpoint 4: its predecessor 3 is missing from the copies outside PostgreSQL, which "
        "holds no checkpoint: checkpoints were removed",
    ]
    run = verify_streams()
    assert run.status == "problems"
    assert "checkpoints 1..3 missing from the database (checkpoint 4 follows nothing)" in (
        run.checkpoint_problems
    )
    assert any(
        p.startswith("checkpoint 4: its predecessor 3 is missing") for p in run.checkpoint_problems
    )


def test_checkpoint_problems_and_incidents_are_in_the_api(two_chains, api_client):
    chain(2)
    superuser_sql(("DELETE FROM integrity_checkpoint WHERE number = 2", ()))
    shutil.rmtree(settings.OBSPORTAL_CHECKPOINT_DIR)
    sign_checkpoint()
    verify_streams()
    latest = api_client.get("/api/v1/verifications/latest/").json()
    assert latest["status"] == "problems"
    assert (
        "checkpoint 2 missing from the database (checkpoint 3 follows 1)"
        in (latest["checkpoint_problems"])
    )
    incidents = api_client.get("/api/v1/checkpoints/incidents/").json()["results"]
    assert [(i["checkpoint_number"], i["kind"]) for i in incidents] == [(4, "predecessor_missing")]
    listed = api_client.get("/api/v1/checkpoints/").json()["results"]
    assert [c["number"] for c in listed] == [4, 3, 1]
