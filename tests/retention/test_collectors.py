"""Retention's metrics: what a run removed, from its signed anchors, and the events past their
policy (retention's own rules), read at scrape time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from obsportal.retention.collectors import RetentionCollector
from obsportal.retention.overdue import events_past_policy
from obsportal.retention.selectors import Rules
from obsportal.retention.services import legal_holds, runs
from tests.retention.helpers import active_policy, approved_plan, officers


def samples(collector) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels["policy"]): s.value
        for family in collector.collect()
        for s in family.samples
    }


@pytest.fixture
def setup(two_chains):
    alice, bob = officers()
    policy = active_policy(alice, bob, agent_pattern="agent-7")
    return {**two_chains, "alice": alice, "bob": bob, "policy": policy}


def test_past_policy_counts_what_the_run_then_removes_and_what_a_hold_keeps(setup):
    later = timezone.now() + timedelta(days=400)
    # Today nothing is past its 30 days; 400 days on, all 20 events are, stream b's held.
    assert [(p.policy, p.past, p.held) for p in events_past_policy(Rules.now(timezone.now()))] == [
        ("agents 30 days", 0, 0)
    ]
    legal_holds.place_legal_hold(
        setup["alice"], name="case 7", reason="litigation", streams=[setup["b"][0]["stream"]]
    )
    assert [(p.past, p.held) for p in events_past_policy(Rules.now(later))] == [(10, 10)]

    outcome = runs.run_plan(approved_plan(setup["alice"], setup["bob"]), chunk_size=4)

    assert outcome.pruned == 10
    assert [(p.past, p.held) for p in events_past_policy(Rules.now(later))] == [(0, 10)]
    assert samples(RetentionCollector()) == {
        ("obsportal_retention_removed_total", "agents 30 days"): 10,
        ("obsportal_retention_events_past_policy", "agents 30 days"): 0,
    }


def test_without_an_active_policy_nothing_is_past_and_nothing_removed(db):
    assert events_past_policy(Rules.now(timezone.now())) == []
    assert samples(RetentionCollector()) == {}
