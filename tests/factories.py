"""Small builders of real journal events (through the SDK's journal writer)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from agents_sdk import JournalWriter
from tests.independent_chain import read_journal


def journal_events(
    tmp_path: Path,
    agent_id: str = "agent-7",
    count: int = 3,
    name: str = "agent.jsonl",
    **fields: Any,
) -> list[dict[str, Any]]:
    """Record `count` events in a fresh journal and return them as written."""
    path = tmp_path / name
    with JournalWriter(path, agent_id) as journal:
        for i in range(count):
            journal.append(
                fields.get("action", "tool_execute"),
                fields.get("result", "success"),
                details={"i": i},
                user_id=fields.get("user_id", "alice"),
                personal_data=fields.get("personal_data"),
            )
    return read_journal(path)


def tampered(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy_ = copy.deepcopy(event)
    copy_.update(changes)
    return copy_


def with_role(user, role: str = "compliance_officer", **scope: Any):
    """`user` holding `role` (and an auditor's scope), set up directly: tests of other
    things start from an empty trail (tests/trail covers assign_role's record)."""
    from obsportal.accounts.models import RoleAssignment

    RoleAssignment.objects.update_or_create(user=user, defaults={"role": role, **scope})
    return user


def agent_credential(agent_id: str = "agent-7") -> str:
    """A live ingest token for `agent_id`, set up directly (no trail event)."""
    import secrets

    from obsportal.accounts.models import AgentCredential
    from obsportal.accounts.services import TOKEN_PREFIX, _digest

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    AgentCredential.objects.create(agent_id=agent_id, token_digest=_digest(token))
    return token
