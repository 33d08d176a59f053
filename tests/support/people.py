"""People with roles for tests: two agents' events, a signed checkpoint, a client per role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from obsportal.ingest.services import admit_batch
from tests.factories import agent_credential, journal_events, with_role

PASSWORD = "pw-roles-test-1234"


@pytest.fixture
def two_agents(db, tmp_path, signing_key):
    """agent-a and agent-b, 3 events each (user_id alice), and a checkpoint over them."""
    from obsportal.integrity.checkpoints import sign_checkpoint

    events = {}
    for agent in ("agent-a", "agent-b"):
        token = agent_credential(agent)
        events[agent] = journal_events(tmp_path, agent, count=3, name=f"{agent}.jsonl")
        verdict = admit_batch({"token": token, "events": events[agent]})
        assert verdict.admitted == 3, verdict
        events[f"{agent}-token"] = token
    events["checkpoint"] = sign_checkpoint()
    return events


def person(django_user_model, username: str, role: str | None, **scope):
    user = django_user_model.objects.create_user(username, password=PASSWORD)
    if role:
        with_role(user, role, **scope)
    return user


@pytest.fixture
def clients(db, django_user_model):
    """A signed-in Django test client per role, plus one for a person with no role."""
    now = datetime.now(UTC)
    made = {}
    for role in ("administrator", "compliance_officer", "auditor", None):
        user = person(django_user_model, role or "nobody", role)
        client = Client()
        client.force_login(user)
        made[role or "none"] = client
    scoped = person(
        django_user_model,
        "scoped",
        "auditor",
        scope_agents=["agent-a"],
        scope_since=now - timedelta(days=1),
        scope_until=now + timedelta(days=1),
    )
    made["scoped_auditor"] = Client()
    made["scoped_auditor"].force_login(scoped)
    expired = person(django_user_model, "expired", "auditor", expires_at=now - timedelta(hours=1))
    made["expired_auditor"] = Client()
    made["expired_auditor"].force_login(expired)
    return made
