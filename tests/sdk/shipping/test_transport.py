"""The transport interface: the Verdict type, the default submit, the shipped test double."""

from __future__ import annotations

import pytest

from agents_sdk import (
    BatchRejected,
    InMemoryTransport,
    JournalWriter,
    Shipper,
    Transport,
    TransportError,
    Verdict,
)


def record(path, count):
    with JournalWriter(path, "agent-7") as journal:
        for i in range(count):
            journal.append("tool_execute", details={"i": i})


def test_a_verdict_reads_the_portals_answer_and_keeps_what_it_does_not_know():
    verdict = Verdict.from_answer(
        {"status": "accepted", "admitted": 3, "duplicates": 1, "heads": {"s": 3}, "new": "x"}
    )
    assert (verdict.status, verdict.admitted, verdict.duplicates) == ("accepted", 3, 1)
    assert not verdict.refused and verdict.heads == {"s": 3}
    assert verdict["new"] == "x" and verdict["admitted"] == 3  # the 0.1 dict reading
    with pytest.raises(KeyError):
        verdict["nothing"]


def test_the_default_submit_sends_at_once_and_a_refusal_carries_its_code(tmp_path):
    path = tmp_path / "agent.jsonl"
    record(path, 3)

    class RefusingPortal(Transport):
        def send(self, events):
            return Verdict.from_answer(
                {"status": "rejected", "reason_code": "wrong_agent", "reason": "not yours"}
            )

    transport = InMemoryTransport(RefusingPortal().send)
    shipper = Shipper(path, transport)
    with pytest.raises(BatchRejected) as refused:
        shipper.ship_once()
    assert (refused.value.code, refused.value.reason) == ("wrong_agent", "not yours")
    assert transport.attempts == 1 and transport.batches == []


def test_the_in_memory_transport_fails_as_told_then_accepts(tmp_path):
    path = tmp_path / "agent.jsonl"
    record(path, 5)
    transport = InMemoryTransport()
    transport.fail_next(TransportError("connection reset"))
    shipper = Shipper(path, transport, batch_size=2, max_in_flight=1)
    assert not shipper.drain()
    assert shipper.last_error == "connection reset"
    assert shipper.drain()
    assert [e["seq"] for e in transport.events] == [0, 1, 2, 3, 4]
    shipper.stop(timeout=1)
    assert transport.closed


def test_an_informal_transport_still_ships_with_a_deprecation_warning(tmp_path):
    path = tmp_path / "agent.jsonl"
    record(path, 2)

    class Informal:
        def send(self, events):
            return {"status": "accepted", "admitted": len(events)}

    with pytest.warns(DeprecationWarning, match="does not derive from agents_sdk.Transport"):
        shipper = Shipper(path, Informal())
    assert shipper.ship_once() == 2
