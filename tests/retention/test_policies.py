"""Policies: four eyes to create, shorten or delete; statutory floors refuse shorter periods;
the longest covering policy wins; every change on the trail."""

from __future__ import annotations

import pytest

from obsportal.accounts.duties import ApprovalRefused
from obsportal.ingest.models import AuditEvent
from obsportal.retention.floors import BelowStatutoryFloor
from obsportal.retention.selectors import policies_covering
from obsportal.retention.services import policies
from obsportal.trail.services import flush_trail
from tests.retention.helpers import active_policy, officers


def trail_actions() -> list[str]:
    flush_trail()  # the trail's background copy is stored
    return list(
        AuditEvent.objects.filter(agent_id="obsportal")
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_a_policy_takes_effect_only_once_another_person_approves_it(db):
    alice, bob = officers()
    change = policies.request_policy(alice, name="p", framework="gdpr", keep_days=30)
    assert change.policy.status == "proposed"
    with pytest.raises(ApprovalRefused, match="cannot also approve"):
        policies.approve_policy_change(alice, change)
    policies.approve_policy_change(bob, change)
    change.policy.refresh_from_db()
    assert change.policy.status == "active"
    assert trail_actions() == ["retention.policy.request", "retention.policy.approve"]


@pytest.mark.parametrize(
    ("framework", "days", "floor"), [("hipaa", 2191, 2192), ("eu_ai_act", 182, 183)]
)
def test_a_policy_below_its_statutory_floor_is_refused(db, framework, days, floor):
    alice, _ = officers()
    with pytest.raises(BelowStatutoryFloor, match=f"below the statutory floor of {floor} days"):
        policies.request_policy(alice, name="short", framework=framework, keep_days=days)
    assert policies.request_policy(alice, name="ok", framework=framework, keep_days=floor)


def test_the_floor_names_its_source(db):
    alice, _ = officers()
    with pytest.raises(BelowStatutoryFloor, match=r"164\.316\(b\)\(2\)"):
        policies.request_policy(alice, name="h", framework="hipaa", keep_days=365)
    with pytest.raises(BelowStatutoryFloor, match=r"Art\. 19\(1\).*Art\. 26\(6\)"):
        policies.request_policy(alice, name="a", framework="eu_ai_act", keep_days=30)


def test_floors_are_configurable(db, settings):
    settings.OBSPORTAL_RETENTION_FLOORS = {"gdpr": {"days": 10, "source": "our DPA"}}
    alice, _ = officers()
    with pytest.raises(BelowStatutoryFloor, match="our DPA"):
        policies.request_policy(alice, name="g", framework="gdpr", keep_days=9)
    policies.request_policy(alice, name="h", framework="hipaa", keep_days=9)


def test_shortening_needs_approval_and_cannot_go_below_the_floor(db):
    alice, bob = officers()
    policy = active_policy(alice, bob, framework="eu_ai_act", keep_days=400)
    change = policies.request_policy_change(bob, policy, keep_days=200)
    assert change.kind == "shorten" and change.status == "pending"
    policy.refresh_from_db()
    assert policy.keep_days == 400
    policies.approve_policy_change(alice, change)
    policy.refresh_from_db()
    assert policy.keep_days == 200
    with pytest.raises(BelowStatutoryFloor):
        policies.request_policy_change(alice, policy, keep_days=100)


def test_lengthening_applies_at_once(db):
    alice, bob = officers()
    policy = active_policy(alice, bob, keep_days=30)
    change = policies.request_policy_change(alice, policy, keep_days=90)
    assert (change.kind, change.status) == ("lengthen", "approved")
    policy.refresh_from_db()
    assert policy.keep_days == 90


def test_deleting_needs_approval(db):
    alice, bob = officers()
    policy = active_policy(alice, bob)
    change = policies.request_policy_deletion(alice, policy, reason="obsolete")
    with pytest.raises(ApprovalRefused):
        policies.approve_policy_change(alice, change)
    policies.approve_policy_change(bob, change)
    policy.refresh_from_db()
    assert policy.status == "retired"


def test_an_auditor_cannot_approve(db, django_user_model):
    from tests.factories import with_role

    alice, _ = officers()
    auditor = with_role(
        django_user_model.objects.create_user("aud", password="pw-aud-1234567"), "auditor"
    )
    change = policies.request_policy(alice, name="p", framework="custom", keep_days=3)
    with pytest.raises(ApprovalRefused, match="does not allow"):
        policies.approve_policy_change(auditor, change)


def test_the_longest_covering_policy_wins(db, stored):
    alice, bob = officers()
    active_policy(alice, bob, name="short", keep_days=30)
    active_policy(alice, bob, name="long", keep_days=400, action_pattern="llm_*")
    llm = AuditEvent.objects.filter(action="llm_call").first()
    tool = AuditEvent.objects.filter(action="tool_execute").first()
    assert [p.name for p in policies_covering(llm)] == ["long", "short"]
    assert [p.name for p in policies_covering(tool)] == ["short"]


PATTERNS = [
    "agent-[12]",
    "agent-[!1]*",
    "a?ent-*",
    "[]x]*",
    "[^a]*",
    "100%",
    "under_score",
    "a\\b*",
]
VALUES = ["agent-1", "agent-2", "agent-3", "agent-12", "aXent-9", "]y", "xy", "^z", "az", "100%"]
VALUES += ["1000", "under_score", "underXscore", "a\\bc", "abc", "agent-\n1"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_matches_in_the_database_what_it_matches_on_the_page(db, pattern):
    """The run selects in SQL, the event page asks `fnmatchcase`: both read a pattern alike,
    `[...]` classes included (PostgreSQL's LIKE has none)."""
    from fnmatch import fnmatchcase

    from django.db import connection

    from obsportal.retention.patterns import pattern_sql

    params: list = []
    clause = pattern_sql("v", pattern, params)
    rows = ", ".join(["(%s)"] * len(VALUES))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT v FROM (VALUES {rows}) AS t(v) WHERE {clause}", [*VALUES, *params])
        matched = {v for (v,) in cursor.fetchall()}
    assert matched == {v for v in VALUES if fnmatchcase(v, pattern)}
