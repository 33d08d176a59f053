"""Which active legal holds cover which events: the selector pruning and erasure share."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from obsportal.ingest.models import AuditEvent
from obsportal.retention import holds
from obsportal.retention.models import LegalHold


def hold(**scope) -> LegalHold:
    return LegalHold.objects.create(name=scope.pop("name", "case 1"), reason="litigation", **scope)


def test_no_hold_covers_nothing(db, stored):
    assert holds.held_among(AuditEvent.objects.all()) == {}
    stream = stored[0]["stream"]
    assert holds.first_held_in_range(stream, 0, 10) is None


def test_a_hold_on_a_user_covers_that_users_events_only(db, stored):
    h = hold(user_ids=["bob"])
    held = holds.held_among(AuditEvent.objects.all())
    assert {AuditEvent.objects.get(pk=pk).user_id for pk in held} == {"bob"}
    assert len(held) == 2 and all(refs[0].id == h.pk for refs in held.values())


def test_dimensions_combine_with_and(db, stored):
    hold(user_ids=["bob"], agents=["someone-else"])
    assert holds.held_among(AuditEvent.objects.all()) == {}


def test_first_held_seq_in_a_stream_range(db, stored):
    stream = stored[3]["stream"]  # bob's stream
    h = hold(streams=[stream], ts_from=timezone.now() - timedelta(days=1))
    seq, ref = holds.first_held_in_range(stream, 0, 5, agent_id="agent-7")
    assert (seq, ref.id) == (0, h.pk)
    assert holds.first_held_in_range(stored[0]["stream"], 0, 5) is None
    assert [r.id for r in holds.holds_covering_range(stream, 1, 1)] == [h.pk]


def test_a_released_hold_covers_nothing(db, stored):
    hold(agents=["agent-7"], released_at=timezone.now())
    assert holds.held_among(AuditEvent.objects.all()) == {}


def test_a_hold_in_the_future_covers_no_past_event(db, stored):
    hold(agents=["agent-7"], ts_from=timezone.now() + timedelta(days=1))
    assert holds.held_among(AuditEvent.objects.all()) == {}
    assert holds.holds_covering_events(AuditEvent.objects.all()) == {}


def test_envelope_mappings_are_matched_too(db, stored):
    h = hold(user_ids=["bob"])
    covered = holds.holds_covering_events(stored)
    assert set(covered) == {e["event_id"] for e in stored if e["user_id"] == "bob"}
    assert covered[stored[3]["event_id"]][0].id == h.pk


def test_a_hold_naming_a_subject(db, stored):
    key = "ab" * 32
    h = hold(subject_keys=[key.upper()])
    assert [r.id for r in holds.holds_naming_subject(key)] == [h.pk]
    assert holds.holds_naming_subject("cd" * 32) == []
