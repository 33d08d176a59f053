"""A small world with known answers, and a report built over it.

agent-a: 4 tool_execute (1 on the ePHI resource), 3 permission_request (2 denied), 2 llm_call
(models m-1 and m-2), 1 model_change; its personal datum of one event is then erased.
agent-b: 2 tool_execute on smtp://outbound (1 success, 1 failure), 1 error; its credential is
issued and revoked. A fork is offered on agent-a's stream; one batch comes with a revoked
token; one portal login fails; bob gets a role from alice, and carol changes her own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.utils import timezone

from agents_sdk import JournalWriter
from agents_sdk.audit.chain import compute_hash, hashed_body
from obsportal.accounts.services import assign_role, issue_agent_credential, revoke_agent_credential
from obsportal.compliance.subjects import requests
from obsportal.compliance.subjects.erasure import erase_subject
from obsportal.ingest.models import AuditEvent, PersonalDatum
from obsportal.ingest.services import admit_batch
from obsportal.trail.services import record_change
from tests.factories import agent_credential, tampered, with_role
from tests.independent_chain import read_journal


def _journal(path: Path, agent: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with JournalWriter(path, agent) as journal:
        for row in rows:
            journal.append(row.pop("action"), row.pop("result", "success"), **row)
    return read_journal(path)


def _pruned_agent(tmp_path: Path, admin) -> None:
    """agent-c: 5 events, seqs 0-1 pruned by retention (anchor signed, rows deleted); an
    active policy keeping 0 days, and a legal hold on user u9's events of agent-c."""
    from obsportal.integrity.anchors import write_prune_anchor
    from obsportal.retention.models import LegalHold, RetentionPolicy

    rows = [{"action": "tool_execute", "user_id": "u9" if i == 4 else "u8"} for i in range(5)]
    c = _journal(tmp_path / "c.jsonl", "agent-c", rows)
    assert admit_batch({"token": agent_credential("agent-c"), "events": c}).admitted == 5
    with transaction.atomic():
        write_prune_anchor(
            stream_id=c[0]["stream"], first_seq=0, last_seq=1, last_hash=c[1]["hash"], count=2,
            policy="agent-c-0d", plan_id=1, run_id=None, pruned_at=timezone.now(),
        )  # fmt: skip
        AuditEvent.objects.filter(stream_id=c[0]["stream"], seq__lte=1).delete()
    RetentionPolicy.objects.create(
        name="agent-c-0d", framework="gdpr", agent_pattern="agent-c", keep_days=0, status="active"
    )
    LegalHold.objects.create(
        name="case-1", reason="litigation", owner=admin, agents=["agent-c"], user_ids=["u9"],
        placed_by=admin,
    )  # fmt: skip


@dataclass
class World:
    since: Any
    until: Any
    admin: Any
    events_a: list
    events_b: list
    run: Any = None
    folder: Path | None = None


@pytest.fixture
def world(transactional_db, tmp_path, signing_key, settings, django_user_model):
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.verification import verify_streams

    settings.OBSPORTAL_REPORT_DIR = tmp_path / "reports"
    settings.OBSPORTAL_REPORT_PDF = False  # test_pdf.py renders it
    since = timezone.now() - timedelta(seconds=1)
    admin = with_role(
        django_user_model.objects.create_user("alice", password="pw-alice-123"), "administrator"
    )
    bob = django_user_model.objects.create_user("bob")
    carol = with_role(django_user_model.objects.create_user("carol"), "administrator")
    assign_role(bob, "auditor", by=admin)
    # assign_role refuses a change to one's own role; a change made around it (the Django
    # admin, SQL) and recorded is what the self-approval exception exists to show.
    record_change(carol, "role.assign", carol, {"role": "administrator", "previous_role": None})

    token_a = issue_agent_credential("agent-a", by=admin).secret
    issued_b = issue_agent_credential("agent-b", by=admin)
    a = _journal(
        tmp_path / "a.jsonl",
        "agent-a",
        [
            {"action": "tool_execute", "resource": "ehr://patients/1042", "user_id": "u1",
             "personal_data": {"email": "p@example.com"}},
            {"action": "tool_execute", "user_id": "u1"},
            {"action": "tool_execute", "user_id": "u2"},
            {"action": "tool_execute", "result": "failure", "user_id": "u2"},
            {"action": "permission_request", "result": "denied", "user_id": "u1"},
            {"action": "permission_request", "result": "denied", "user_id": "u2"},
            {"action": "permission_request", "user_id": "u1"},
            {"action": "llm_call", "details": {"model": "m-1"}},
            {"action": "llm_call", "details": {"model": "m-2"}},
            {"action": "model_change", "details": {"from": "m-1", "to": "m-2"}},
        ],
    )  # fmt: skip
    b = _journal(
        tmp_path / "b.jsonl",
        "agent-b",
        [
            {"action": "tool_execute", "resource": "smtp://outbound", "user_id": "u3"},
            {"action": "tool_execute", "resource": "smtp://outbound", "result": "failure"},
            {"action": "llm_call", "result": "error"},
        ],
    )
    assert admit_batch({"token": token_a, "events": a}).admitted == len(a)
    assert admit_batch({"token": issued_b.secret, "events": b}).admitted == len(b)
    revoke_agent_credential(issued_b.credential, by=admin)
    refused = admit_batch({"token": issued_b.secret, "events": b})
    assert refused.reason_code == "bad_token"
    fork = tampered(a[4], event_id="01900000-0000-7000-8000-0000000000f1", result="success")
    fork["hash"] = compute_hash(hashed_body(fork), fork["prev_hash"])
    assert admit_batch({"token": token_a, "events": [fork]}).forks == 1
    user_login_failed.send(sender=__name__, credentials={"username": "mallory"}, request=None)
    _pruned_agent(tmp_path, admin)
    # an erasure (GDPR Art. 17) of the one e-mail address, through the portal's own request
    erasure = requests.create_request(
        kind="erasure", identifier="p@example.com", legal_ground="Art. 17(1)(a)"
    )
    assert erase_subject(erasure).outcome["counts"]["fields_erased"] == 1
    assert not PersonalDatum.objects.filter(event__event_id=a[0]["event_id"]).exists()
    sign_checkpoint()
    verify_streams()
    until = timezone.now()
    return World(since, until, admin, a, b)


@pytest.fixture
def built(world):
    """The SOC 2 report of the world's period, built in process."""
    return build(world, "soc2", seed="seed-1")


def build(world: World, framework: str, seed: str = "seed-1") -> World:
    from obsportal.compliance.reports.build import build_report, report_dir
    from obsportal.compliance.reports.services import request_report

    run = request_report(framework, world.since, world.until, world.admin, seed=seed, queue=False)
    run = build_report(run.pk)
    assert run.status == "done", run.error
    world.run, world.folder = run, report_dir(run)
    return world
