"""A month the plan empties whole goes as one partition, dropped behind its anchors; any
other month is deleted in chunks as before (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection

from obsportal.ingest import partitions
from obsportal.ingest.models import AuditEvent
from obsportal.integrity.models import PruneAnchor
from obsportal.integrity.verification import verify_streams
from obsportal.retention.models import LegalHold
from obsportal.retention.services import runs
from tests.retention.helpers import active_policy, approved_plan, officers
from tests.support.chains import superuser_sql
from tests.support.months import admit, days_from, stamped_chain

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions are PostgreSQL's"
)

# Months of their own: a test that commits a drop or a creation leaves it for later tests.
JUNE_2018 = datetime(2018, 6, 4, tzinfo=UTC)
JULY_2018 = datetime(2018, 7, 4, tzinfo=UTC)


def _names() -> set[str]:
    return {month.name for month in partitions.month_partitions()}


@pytest.fixture
def june(transactional_db, agent_token, signing_key):
    """Streams a and b of agent-7: ten events each, all in June 2018, in its own partition."""
    from obsportal.integrity.checkpoints import sign_checkpoint

    agent, token = agent_token
    partitions.create_month(date(2018, 6, 1))
    a = stamped_chain(agent, "june-a", days_from(JUNE_2018, 10))
    b = stamped_chain(agent, "june-b", days_from(JUNE_2018.replace(day=20), 10))
    admit(token, a + b)
    sign_checkpoint()
    alice, bob = officers()
    active_policy(alice, bob, agent_pattern="agent-7")
    return {"a": a, "b": b, "alice": alice, "bob": bob, "token": token, "agent": agent}


def test_a_whole_month_is_dropped_behind_one_anchor_a_stream_and_verifies(june, capsys):
    messages: list[str] = []
    outcome = runs.run_plan(
        approved_plan(june["alice"], june["bob"]), chunk_size=4, progress=messages.append
    )
    assert outcome.pruned == 20
    assert "ingest_auditevent_2018_06" not in _names()
    assert "ingest_auditevent_2018_06: dropped, 20 events" in messages
    assert outcome.run.progress["partitions"] == ["ingest_auditevent_2018_06"]
    # One anchor a stream for the month (not one a chunk of 4), with the usual contract.
    for stream in ("june-a", "june-b"):
        [anchor] = PruneAnchor.objects.filter(stream_id=stream)
        assert (anchor.first_seq, anchor.last_seq, anchor.count) == (0, 9, 10)
        assert anchor.policy == "agents 30 days"
        assert anchor.last_hash == june["a" if stream == "june-a" else "b"][-1]["hash"]
    trail = AuditEvent.objects.filter(action="retention.prune")
    assert {row.details["partition"] for row in trail} == {"ingest_auditevent_2018_06"}
    run = verify_streams()
    for stream in ("june-a", "june-b"):
        result = run.streams.get(stream_id=stream)
        assert result.status == "verified", result.breaks
        assert (result.pruned[0]["from"], result.pruned[0]["to"]) == (0, 9)
    # Idempotent: the same plan again prunes nothing.
    assert runs.run_plan(approved_plan(june["alice"], june["bob"])).pruned == 0


def test_a_month_a_hold_keeps_part_of_is_deleted_in_chunks_and_stays(june):
    LegalHold.objects.create(
        name="case", reason="r", streams=["june-a"], ts_from=days_from(JUNE_2018, 10)[5]
    )
    messages: list[str] = []
    outcome = runs.run_plan(approved_plan(june["alice"], june["bob"]), progress=messages.append)
    assert outcome.pruned == 15  # a 0..4 and all of b, through the door's DELETE
    assert "ingest_auditevent_2018_06" in _names()
    assert "ingest_auditevent_2018_06: not whole (it holds events the plan keeps)" in messages
    assert list(
        AuditEvent.objects.filter(stream_id="june-a").order_by("seq").values_list("seq", flat=True)
    ) == [5, 6, 7, 8, 9]
    assert verify_streams().streams.get(stream_id="june-a").status == "verified"


def test_a_hold_placed_after_the_plan_was_approved_keeps_the_month_too(june):
    plan = approved_plan(june["alice"], june["bob"])
    LegalHold.objects.create(
        name="late case", reason="r", streams=["june-b"], ts_from=days_from(JUNE_2018, 1)[0]
    )
    messages: list[str] = []
    outcome = runs.run_plan(plan, progress=messages.append)
    assert "ingest_auditevent_2018_06" in _names()
    assert any("june-b may go only through seq -1 now" in m for m in messages), messages
    assert outcome.pruned == 10  # stream a, by DELETE
    assert AuditEvent.objects.filter(stream_id="june-b").count() == 10


def test_the_older_month_goes_whole_and_the_newer_rows_of_its_streams_stay(june):
    """Stream a goes on in July and today: June is dropped, July too, today's rows stay."""
    partitions.create_month(date(2018, 7, 1))
    july = stamped_chain(
        june["agent"], "june-a", days_from(JULY_2018, 3), start=10, prev=june["a"][-1]["hash"]
    )
    today = stamped_chain(
        june["agent"], "june-a", [datetime.now(UTC)], start=13, prev=july[-1]["hash"]
    )
    admit(june["token"], july + today)
    # A plan of today: 30 days keep today's event.
    plan = approved_plan(june["alice"], june["bob"], days_ahead=0)
    outcome = runs.run_plan(plan)
    assert outcome.pruned == 23
    assert not {"ingest_auditevent_2018_06", "ingest_auditevent_2018_07"} & _names()
    assert list(
        PruneAnchor.objects.filter(stream_id="june-a").values_list("first_seq", "last_seq")
    ) == [
        (0, 9),
        (10, 12),
    ]
    assert list(AuditEvent.objects.filter(stream_id="june-a").values_list("seq", flat=True)) == [13]
    assert verify_streams().streams.get(stream_id="june-a").status == "verified"


def test_a_month_dropped_by_a_superuser_without_anchors_is_tampering_located(june):
    """Stream a has June (seq 0..9) and today (seq 10); someone drops June around the door."""
    today = stamped_chain(
        june["agent"], "june-a", [datetime.now(UTC)], start=10, prev=june["a"][-1]["hash"]
    )
    admit(june["token"], today)
    from obsportal.integrity.checkpoints import sign_checkpoint

    sign_checkpoint()
    assert verify_streams().streams.get(stream_id="june-a").status == "verified"
    superuser_sql(
        ("ALTER TABLE ingest_auditevent DETACH PARTITION ingest_auditevent_2018_06", ()),
        ("DROP TABLE ingest_auditevent_2018_06", ()),
    )
    run = verify_streams()
    result = run.streams.get(stream_id="june-a")
    assert result.status == "broken"
    assert result.gaps == [[0, 9]]
    assert not PruneAnchor.objects.exists()
    assert run.streams.get(stream_id="june-b").status != "verified"


@pytest.mark.slow
def test_killed_among_months_resumes_without_losing_an_anchor_or_a_month(
    transactional_db, agent_token, tmp_path, signing_key
):
    """Five whole months (one stream each), then a long stream of today in chunks: killed
    with -9 once the first month is reported dropped, wherever that lands."""
    import time

    from tests.retention.test_kill import EVENTS, apply_retention
    from tests.support.chains import admit_journal

    agent, token = agent_token
    months = [datetime(2018, month, 2, tzinfo=UTC) for month in range(1, 6)]
    for first in months:
        partitions.create_month(first.date())
        admit(token, stamped_chain(agent, f"m-{first:%m}", days_from(first, 40)))
    long = admit_journal(tmp_path, token, agent, "long.jsonl", EVENTS)[0]["stream"]
    alice, bob = officers()
    active_policy(alice, bob, agent_pattern="agent-7")
    plan = approved_plan(alice, bob)

    log = tmp_path / "first.log"
    proc = apply_retention(plan.pk, log)
    while "dropped" not in log.read_text() and proc.poll() is None:
        time.sleep(0.005)
    proc.kill()
    proc.wait()

    def whole_or_untouched():
        for first in months:
            anchors = list(PruneAnchor.objects.filter(stream_id=f"m-{first:%m}"))
            dropped = f"ingest_auditevent_{first:%Y_%m}" not in _names()
            assert dropped == bool(anchors)
            assert [(a.first_seq, a.last_seq) for a in anchors] == ([(0, 39)] if dropped else [])
            assert AuditEvent.objects.filter(stream_id=f"m-{first:%m}").count() == (
                0 if dropped else 40
            )

    whole_or_untouched()
    second = apply_retention(plan.pk, tmp_path / "second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    whole_or_untouched()
    assert not {f"ingest_auditevent_{first:%Y_%m}" for first in months} & _names()
    anchors = PruneAnchor.objects.filter(stream_id=long)
    assert sum(a.count for a in anchors) == EVENTS
    run = verify_streams()
    for stream in [long, *(f"m-{first:%m}" for first in months)]:
        assert run.streams.get(stream_id=stream).status == "verified"
