"""The hourly counts the overview reads are kept by admission, in its transaction."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from obsportal.ingest.counts import rebuild_event_counts
from obsportal.ingest.models import AuditEvent, EventCount
from obsportal.ingest.services import admit_batch
from tests.factories import journal_events

pytestmark = pytest.mark.django_db


def counted(**where) -> int:
    return EventCount.objects.filter(**where).aggregate(n=Sum("count"))["n"] or 0


def test_admission_counts_what_it_stores_and_a_resend_adds_nothing(agent_token, tmp_path):
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=4, action="llm_call", result="denied")
    assert admit_batch({"token": token, "events": events}).admitted == 4
    assert counted(agent_id=agent, action="llm_call", result="denied") == 4
    admit_batch({"token": token, "events": events})  # redelivered
    assert counted(agent_id=agent) == 4
    hour = EventCount.objects.get(agent_id=agent).hour
    assert hour.minute == 0 and hour.second == 0


def test_the_trail_is_not_counted_and_a_rebuild_agrees(
    agent_token, tmp_path, client, django_user_model
):
    from tests.factories import with_role

    agent, token = agent_token
    admit_batch({"token": token, "events": journal_events(tmp_path, agent, count=3)})
    client.force_login(with_role(django_user_model.objects.create_user("o")))
    client.get("/events/")
    before = {(c.hour, c.agent_id, c.action, c.result): c.count for c in EventCount.objects.all()}
    # The counts are the overview's, which never shows the trail: a request's recording
    # does not pay for them (issue #12's 1 ms budget).
    assert AuditEvent.objects.filter(agent_id="obsportal").exists()
    assert counted(agent_id="obsportal") == 0
    assert counted(agent_id=agent) == 3
    rebuild_event_counts()
    after = {(c.hour, c.agent_id, c.action, c.result): c.count for c in EventCount.objects.all()}
    assert before == after


def test_the_overviews_sums_over_actions_agree_with_the_counts(
    agent_token, tmp_path, client, django_user_model
):
    from obsportal.ingest.counts import counts_disagreeing
    from obsportal.ingest.models import ResultCount
    from tests.factories import with_role

    agent, token = agent_token
    batch = journal_events(tmp_path, agent, count=3, action="llm_call", result="denied")
    admit_batch({"token": token, "events": batch})  # a batch: count_events
    more = journal_events(
        tmp_path, agent, count=2, name="b.jsonl", action="tool_execute", result="denied"
    )
    assert admit_batch({"token": token, "events": more}).admitted == 2  # same hours, summed
    client.force_login(with_role(django_user_model.objects.create_user("o")))
    client.get("/events/")  # the trail: one event at its head
    assert counts_disagreeing() == []
    kept = ResultCount.objects.filter(agent_id=agent, result="denied")
    assert sum(r.count for r in kept) == AuditEvent.objects.filter(agent_id=agent).count()
    assert not ResultCount.objects.filter(agent_id="obsportal").exists()
    before = {(r.hour, r.agent_id, r.result): r.count for r in ResultCount.objects.all()}
    rebuild_event_counts()
    assert counts_disagreeing() == []
    after = {(r.hour, r.agent_id, r.result): r.count for r in ResultCount.objects.all()}
    assert before == after
