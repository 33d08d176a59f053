"""Read-side selectors: gaps a stream has waited on too long."""

import pytest

from obsportal.ingest.models import (
    PendingEvent,
)
from obsportal.ingest.services import admit_batch
from tests.factories import journal_events

pytestmark = pytest.mark.django_db


def test_gaps_left_unfilled_are_reported_with_the_missing_range(agent_token, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from obsportal.events.selectors import unfilled_gaps

    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=6)
    admit_batch({"token": token, "events": events[:2] + events[4:]})
    assert unfilled_gaps(older_than=timedelta(minutes=5)) == []  # still within grace
    PendingEvent.objects.update(received_at=timezone.now() - timedelta(minutes=30))
    (gap,) = unfilled_gaps(older_than=timedelta(minutes=5))
    assert (gap.stream, gap.agent_id, gap.missing, gap.waiting) == (
        events[0]["stream"],
        agent,
        (2, 3),
        2,
    )
    admit_batch({"token": token, "events": events[2:4]})
    assert unfilled_gaps(older_than=timedelta(minutes=5)) == []
