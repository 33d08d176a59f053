"""A small, varied record for the search pages: every filter of the API selects some of it."""

from __future__ import annotations

import pytest

from agents_sdk import JournalWriter
from obsportal.ingest.services import admit_batch
from tests.factories import agent_credential, with_role
from tests.independent_chain import read_journal

ACTIONS = ("tool_execute", "llm_call", "data_access")
RESULTS = ("success", "failure", "denied", "error")
TRACE = "ab" * 16


def record(tmp_path, agent_id: str, count: int, name: str, offset: int = 0) -> list[dict]:
    path = tmp_path / name
    with JournalWriter(path, agent_id) as journal:
        for i in range(offset, offset + count):
            journal.append(
                ACTIONS[i % 3],
                RESULTS[i % 4],
                details={"i": i, "note": "x" * (i % 5)},
                user_id=("alice", "bob")[i % 2],
                resource=f"crm://tickets/{i % 5}",
                trace_id=TRACE if i % 6 == 0 else None,
                span_id=f"{i:016x}" if i % 6 == 0 else None,
                personal_data={"email": f"person{i}@example.com"} if i % 7 == 0 else None,
            )
    return read_journal(path)


@pytest.fixture
def searchable(db, tmp_path):
    """agent-7: one stream of 30 events cycling actions, results, users, resources, one
    trace and some personal data; agent-8: one stream of 5."""
    events = {}
    for agent, count in (("agent-7", 30), ("agent-8", 5)):
        token = agent_credential(agent)
        events[agent] = record(tmp_path, agent, count, f"{agent}.jsonl")
        verdict = admit_batch({"token": token, "events": events[agent]})
        assert verdict.admitted == count, verdict
        events[f"{agent}-token"] = token
    return events


@pytest.fixture
def officer(client, django_user_model):
    client.force_login(with_role(django_user_model.objects.create_user("officer")))
    return client


@pytest.fixture
def auditor(django_user_model):
    from django.test import Client

    client = Client()
    client.force_login(with_role(django_user_model.objects.create_user("aud"), "auditor"))
    return client
