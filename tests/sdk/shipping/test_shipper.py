"""The shipper against the portal's real admission service (in process, real PostgreSQL).

Several batches travel at once; answers may come back for later batches first;
a failure anywhere sends everything after the cursor again. Whatever happens,
each event is stored exactly once and the cursor only covers acknowledged events.
"""

from __future__ import annotations

import time

import orjson
import pytest

from agents_sdk import InMemoryTransport, JournalWriter, Shipper
from agents_sdk.shipping.cursor import cursor_path, load_cursor
from agents_sdk.shipping.transport import Batch, TransportError
from obsportal.ingest.models import AuditEvent
from obsportal.ingest.services import admit_batch
from tests.independent_chain import read_journal
from tests.sdk.journal_files import all_events

pytestmark = pytest.mark.django_db


class PortalInProcess(InMemoryTransport):
    """The SDK's in-memory transport, answering through the portal's admission service.

    Batches are admitted lazily when the shipper asks for an answer, and the
    latest-submitted first: the portal sees batches out of order, as it may
    over a real broker with several in flight. `fail` lists submission numbers
    whose answer is lost (after the portal stored them, or before).
    """

    def __init__(self, token: str, fail: dict[int, str] | None = None):
        super().__init__(lambda events: admit_batch({"token": token, "events": events}).as_dict())
        self.token = token
        self.fail = dict(fail or {})
        self.submitted = 0
        self.queued: list[tuple[int, list[dict], dict]] = []
        self.max_in_flight_seen = 0

    def submit(self, batch: Batch):
        number = self.submitted
        self.submitted += 1
        slot: dict = {}
        self.queued.append((number, batch.events(), slot))
        self.max_in_flight_seen = max(self.max_in_flight_seen, len(self.queued))
        transport = self

        class Pending:
            def result(self, timeout=None):
                transport._deliver_all()
                if "error" in slot:
                    raise TransportError(slot["error"])
                return slot["verdict"]

        return Pending()

    def _deliver_all(self):
        for number, events, slot in reversed(self.queued):
            mode = self.fail.pop(number, None)
            if mode == "lost_before":
                slot["error"] = "connection reset before the portal got it"
                continue
            slot["verdict"] = self.send(events)
            if mode == "lost_after":
                slot["error"] = "connection reset after the portal stored it"
        self.queued.clear()


def record(path, count, **options):
    with JournalWriter(path, "agent-7", **options) as journal:
        for i in range(count):
            journal.append("tool_execute", details={"i": i}, user_id="alice")


def stored_seqs():
    return list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))


def test_window_of_batches_out_of_order_stores_every_event_once(agent_token, tmp_path):
    _, token = agent_token
    path = tmp_path / "agent.jsonl"
    record(path, 95)
    transport = PortalInProcess(token)
    shipper = Shipper(path, transport, batch_size=10, max_in_flight=4)
    assert shipper.pending_events() == 95
    assert shipper.drain()
    assert transport.max_in_flight_seen == 4
    assert stored_seqs() == list(range(95))
    assert shipper.cursor.seq == 94
    assert shipper.pending_events() == 0
    assert AuditEvent.objects.filter(hash=read_journal(path)[-1]["hash"]).exists()


@pytest.mark.parametrize("mode", ["lost_before", "lost_after"])
def test_a_failed_batch_in_the_window_is_resent_with_everything_after_it(
    agent_token, tmp_path, mode
):
    _, token = agent_token
    path = tmp_path / "agent.jsonl"
    record(path, 80)
    transport = PortalInProcess(token, fail={1: mode})
    shipper = Shipper(path, transport, batch_size=10, max_in_flight=4)
    assert not shipper.drain()
    # Batch 0 was acknowledged; batch 1's answer was lost, so the cursor stops before it
    # even though batches 2 and 3 reached the portal.
    assert shipper.cursor.seq == 9
    assert load_cursor(path).seq == 9
    assert "connection reset" in shipper.last_error
    assert shipper.drain()
    assert stored_seqs() == list(range(80))
    assert shipper.cursor.seq == 79


def test_shipper_resumes_after_a_restart_across_rotations(agent_token, tmp_path):
    _, token = agent_token
    path = tmp_path / "agent.jsonl"
    record(path, 40, fsync="always", rotate_bytes=3_000)
    first = Shipper(path, PortalInProcess(token), batch_size=7)
    assert first.ship_once() == 7
    cursor = load_cursor(path)
    # The agent restarts and writes more, rotating the file the cursor points into.
    record(path, 40, fsync="always", rotate_bytes=3_000)
    second = Shipper(path, PortalInProcess(token), batch_size=7, max_in_flight=3)
    assert second.cursor == cursor
    assert second.pending_events() == 73
    assert second.drain()
    assert stored_seqs() == list(range(80))
    assert [e["hash"] for e in all_events(path)] == list(
        AuditEvent.objects.order_by("seq").values_list("hash", flat=True)
    )


def test_a_cursor_written_before_rotation_existed_still_resumes(agent_token, tmp_path):
    _, token = agent_token
    path = tmp_path / "agent.jsonl"
    record(path, 10)
    assert Shipper(path, PortalInProcess(token), batch_size=4).ship_once() == 4
    offset = sum(len(line) for line in path.read_bytes().splitlines(keepends=True)[:4])
    cursor_path(path).write_bytes(orjson.dumps({"offset": offset, "seq": 3}))  # the old form
    shipper = Shipper(path, PortalInProcess(token))
    assert (shipper.cursor.base, shipper.cursor.offset, shipper.cursor.seq) == (0, offset, 3)
    assert shipper.drain()
    assert shipper.shipped_events == 6
    assert stored_seqs() == list(range(10))


def unreachable(events):
    raise TransportError("connection refused")


def test_recording_never_waits_for_a_dead_portal_and_pending_is_reported(tmp_path):
    path = tmp_path / "agent.jsonl"
    journal = JournalWriter(path, "agent-7")
    transport = InMemoryTransport(unreachable)
    shipper = Shipper(path, transport, journal=journal, max_wait=0.01, max_backoff=0.05)
    journal.add_listener(shipper.wakeup)
    shipper.start()
    try:
        slowest = 0.0
        for i in range(2_000):
            started = time.perf_counter()
            journal.append("step", details={"i": i})
            slowest = max(slowest, time.perf_counter() - started)
        assert journal.flush(timeout=5)
        time.sleep(0.3)
        assert transport.attempts >= 2  # it kept trying, backing off
        assert shipper.pending_events() == 2_000
        assert shipper.last_error == "connection refused"
        assert slowest < 0.5  # generous: a record call never waits on the network
    finally:
        assert not shipper.stop(timeout=1)
        journal.close()
    assert load_cursor(path).seq == -1


def test_a_celery_transport_leaves_the_process_current_app_alone():
    from celery import current_app

    from agents_sdk.shipping.transports import CeleryTransport

    before = current_app._get_current_object()
    transport = CeleryTransport("redis://127.0.0.1:1/0", token="agt_x")
    try:
        assert current_app._get_current_object() is before
        # and its URL wins over $CELERY_BROKER_URL, which Celery otherwise prefers
        assert transport.app.conf.broker_write_url == "redis://127.0.0.1:1/0"
    finally:
        transport.close()


def test_the_durable_offset_callable_stays_exact_across_rotations(agent_token, tmp_path):
    # The form the Observability facade uses: durable_offset=lambda: journal.durable_offset.
    _, token = agent_token
    path = tmp_path / "agent.jsonl"
    journal = JournalWriter(path, "agent-7", rotate_bytes=2_000)
    shipper = Shipper(
        path, PortalInProcess(token), batch_size=7, durable_offset=lambda: journal.durable_offset
    )
    try:
        for round_ in range(5):
            for i in range(9):
                journal.append("step", details={"round": round_, "i": i})
            assert journal.flush(timeout=5)
            assert shipper.drain()
            assert shipper.cursor.seq == journal.last_seq
    finally:
        journal.close()
    assert stored_seqs() == list(range(45))
