"""What the first-run demo sets up, made to run again: each step reuses what an earlier run made.

The demo keeps its state beside the embedded database in `var/`: the agent's journal at a fixed
path (so one stream, continued) and the plaintext of the agent's ingest token in
`var/demo/ingest-token` (0600; the portal stores only a digest, so a second run could not
otherwise reuse the token and would issue another). That file is a demo convenience: a real
agent's token belongs in the agent's own secret store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from obsportal.accounts.models import RoleAssignment
from obsportal.accounts.roles import Role
from obsportal.accounts.services import (
    InvalidIngestToken,
    agent_for_token,
    assign_role,
    issue_agent_token,
)
from obsportal.ingest.models import AuditEvent, Stream

DEMO_USER = "officer"
# One login per role: (username, role); each password is the --password with the
# username's own prefix (officer-demo, admin-demo, auditor-demo by default).
DEMO_LOGINS = (
    (DEMO_USER, Role.COMPLIANCE_OFFICER),
    ("admin", Role.ADMINISTRATOR),
    ("auditor", Role.AUDITOR),
)
DEMO_AGENT = "demo-support-agent"


@dataclass(frozen=True)
class Login:
    username: str
    role: Role
    password: str


@dataclass(frozen=True)
class Reused:
    """A piece of demo state, and whether an earlier run had made it."""

    value: str
    reused: bool


def ensure_logins(password: str) -> list[Login]:
    """One login per role; an existing one keeps its role, and gets the printed password back."""
    logins = []
    for username, role in DEMO_LOGINS:
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": role == Role.ADMINISTRATOR}
        )
        secret = password if username == DEMO_USER else password.replace(DEMO_USER, username)
        if not user.check_password(secret):
            user.set_password(secret)
            user.save()
        # A role assignment is a trail record: write it only when the role is not held yet.
        if not RoleAssignment.objects.filter(user=user, role=role.value).exists():
            assign_role(user, role)
        logins.append(Login(username, role, secret))
    return logins


def token_path() -> Path:
    return Path(settings.VAR_DIR) / "demo" / "ingest-token"


def ensure_token() -> Reused:
    """The demo agent's ingest token: the one an earlier run issued, while it is live."""
    path = token_path()
    if path.exists():
        token = path.read_text().strip()
        try:
            if agent_for_token(token) == DEMO_AGENT:
                return Reused(token, reused=True)
        except InvalidIngestToken:
            pass  # revoked, or the database was made anew: issue another
    token = issue_agent_token(DEMO_AGENT, label="demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return Reused(token, reused=False)


def journal_path() -> Path:
    path = Path(settings.VAR_DIR) / "journals" / f"{DEMO_AGENT}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def stored_events(stream_id: str) -> int:
    return AuditEvent.objects.filter(stream_id=stream_id).count()


def portal_knows(stream_id: str) -> bool:
    return Stream.objects.filter(pk=stream_id).exists()


def discard_journal(path: Path) -> None:
    """Remove a journal the portal has never heard of (its database was made anew), with its
    cursor, lock and rotated segments, so that the demo starts a stream the portal has whole."""
    for file in path.parent.glob(path.name + "*"):
        file.unlink()
