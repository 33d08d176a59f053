"""Real chains admitted through ingestion, as fixtures for the suites that read them back,
and superuser SQL for the tampering that verification must expose.

A conftest makes a fixture here available by importing it.
"""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings

from obsportal.ingest.services import admit_batch
from tests.factories import journal_events


def admit_journal(tmp_path, token, agent, name, count, **fields):
    events = journal_events(tmp_path, agent, count=count, name=name, **fields)
    verdict = admit_batch({"token": token, "events": events})
    assert verdict.status == "accepted" and verdict.admitted == count, verdict
    return events


@pytest.fixture
def two_chains(transactional_db, agent_token, tmp_path, signing_key):
    """Two streams of 10 events of agent-7, admitted, and a checkpoint signed over them."""
    from obsportal.integrity.checkpoints import sign_checkpoint

    agent, token = agent_token
    a = admit_journal(tmp_path, token, agent, "a.jsonl", 10)
    b = admit_journal(
        tmp_path, token, agent, "b.jsonl", 10, personal_data={"email": "bob@example.com"}
    )
    checkpoint = sign_checkpoint()
    return {"a": a, "b": b, "checkpoint": checkpoint, "token": token, "agent": agent}


@pytest.fixture
def stored(agent_token, tmp_path):
    """Five events of agent-7 in two streams: three llm_call, two denied tool_execute of bob."""
    agent, token = agent_token
    events = journal_events(tmp_path, agent, count=3, name="a.jsonl", action="llm_call")
    events += journal_events(
        tmp_path,
        agent,
        count=2,
        name="b.jsonl",
        action="tool_execute",
        result="denied",
        user_id="bob",
    )
    assert admit_batch({"token": token, "events": events}).admitted == 5
    return events


def superuser_sql(*statements: tuple[str, tuple]) -> None:
    """Run SQL as a PostgreSQL superuser on a separate connection, with triggers off.

    `session_replication_role = replica` silences ordinary triggers, the
    append-only one included: the tampering the chain and checkpoints must expose.
    """
    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        for sql, params in statements:
            conn.execute(sql, params)


def signed_head(journal_path, event) -> dict:
    """The head its journal's agent key signs over `event`, as a shipper sends it."""
    from agents_sdk.audit.head_signing import load_key

    signer = load_key(journal_path)
    assert signer is not None, f"{journal_path} has no agent key"
    return signer.sign(event["agent_id"], event["stream"], event["seq"], event["hash"]).as_wire()


def admit_signed(tmp_path, token, agent, name, count, **fields):
    """A journal's events admitted in one batch signed by its agent key, as shippers do."""
    events = journal_events(tmp_path, agent, count=count, name=name, **fields)
    head = signed_head(tmp_path / name, events[-1])
    verdict = admit_batch({"token": token, "events": events, "heads": [head]})
    assert verdict.status == "accepted" and verdict.admitted == count, verdict
    return events


@pytest.fixture
def signed_chains(transactional_db, agent_token, tmp_path, signing_key):
    """Two streams of 10 events of agent-7, each shipped with its agent-signed head (one key
    per credential: both journals share it), and a checkpoint signed over them."""
    import shutil

    from agents_sdk.audit.head_signing import key_path
    from obsportal.integrity.checkpoints import sign_checkpoint

    agent, token = agent_token
    a = admit_signed(tmp_path, token, agent, "a.jsonl", 10)
    # The second journal of this credential uses the same agent key as the first.
    shutil.copy2(key_path(tmp_path / "a.jsonl"), key_path(tmp_path / "b.jsonl"))
    b = admit_signed(tmp_path, token, agent, "b.jsonl", 10)
    checkpoint = sign_checkpoint()
    return {"a": a, "b": b, "checkpoint": checkpoint, "token": token, "agent": agent}
