"""A run prunes each stream's oldest range behind a signed anchor, and the chain still verifies."""

from __future__ import annotations

import pytest

from obsportal.ingest.models import AuditEvent
from obsportal.integrity.models import PruneAnchor
from obsportal.integrity.verification import verify_streams
from obsportal.retention.models import LegalHold
from obsportal.retention.services import legal_holds, plans, runs
from obsportal.retention.services.trail import RetentionRefused
from tests.retention.helpers import active_policy, approved_plan, officers
from tests.support.chains import superuser_sql


@pytest.fixture
def setup(two_chains):
    alice, bob = officers()
    policy = active_policy(alice, bob, agent_pattern="agent-7")
    return {**two_chains, "alice": alice, "bob": bob, "policy": policy}


def test_a_run_prunes_and_verification_reports_the_pruned_range(setup):
    plan = approved_plan(setup["alice"], setup["bob"])
    outcome = runs.run_plan(plan, chunk_size=4)
    assert outcome.pruned == 20
    stream_a = setup["a"][0]["stream"]
    assert not AuditEvent.objects.filter(stream_id=stream_a).exists()
    assert PruneAnchor.objects.filter(stream_id=stream_a).count() == 3  # 4 + 4 + 2
    run = verify_streams()
    result = run.streams.get(stream_id=stream_a)
    assert result.status == "verified", result.breaks
    assert result.pruned[0] | {"date": "D"} == result.pruned[0] | {
        "from": 0,
        "to": 9,
        "policy": "agents 30 days",
        "date": "D",
    }


def test_one_more_row_deleted_without_an_anchor_is_tampering_located(setup):
    alice, bob = setup["alice"], setup["bob"]
    stream_a = setup["a"][0]["stream"]
    # hold seq 5.. of stream a so that a run prunes 0..4 only
    LegalHold.objects.create(
        name="case",
        reason="r",
        streams=[stream_a],
        ts_from=AuditEvent.objects.get(stream_id=stream_a, seq=5).ts,
    )
    runs.run_plan(approved_plan(alice, bob))
    assert AuditEvent.objects.filter(stream_id=stream_a).count() == 5
    assert verify_streams().streams.get(stream_id=stream_a).status == "verified"
    superuser_sql(("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 5", (stream_a,)))
    result = verify_streams().streams.get(stream_id=stream_a)
    assert result.status == "broken"
    assert result.gaps == [[5, 5]]
    assert result.first_break["seq"] == 5


def test_a_held_event_survives_and_the_run_says_which_hold_kept_it(setup):
    stream_b = setup["b"][0]["stream"]
    hold = legal_holds.place_legal_hold(
        setup["alice"], name="case 7", reason="litigation", streams=[stream_b]
    )
    outcome = runs.run_plan(approved_plan(setup["alice"], setup["bob"]))
    assert AuditEvent.objects.filter(stream_id=stream_b).count() == 10
    assert outcome.pruned == 10
    assert outcome.run.skipped[0]["hold"] == hold.pk
    assert outcome.run.skipped[0]["stream"] == stream_b
    assert outcome.run.skipped[0]["events"] == 10


def test_a_second_run_of_the_same_plan_prunes_nothing_more(setup):
    plan = approved_plan(setup["alice"], setup["bob"])
    runs.run_plan(plan)
    again = runs.run_plan(plan)
    assert again.pruned == 0
    assert PruneAnchor.objects.count() == 2


def test_a_self_approved_plan_is_refused(setup):
    from obsportal.accounts.duties import ApprovalRefused

    plan = plans.propose_plan(setup["alice"])
    with pytest.raises(ApprovalRefused):
        plans.approve_plan(setup["alice"], plan)
    with pytest.raises(RetentionRefused):
        runs.run_plan(plan)


def test_a_deleted_anchor_turns_the_pruned_range_into_tampering(setup):
    stream_a = setup["a"][0]["stream"]
    runs.run_plan(approved_plan(setup["alice"], setup["bob"]), chunk_size=5)
    superuser_sql(
        ("DELETE FROM integrity_pruneanchor WHERE stream_id = %s AND first_seq = 0", (stream_a,))
    )
    result = verify_streams().streams.get(stream_id=stream_a)
    assert result.status == "broken"
    assert "does not continue the pruned range" in result.first_break["reason"]
