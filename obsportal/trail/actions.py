"""The registry of trail actions: every kind of event the portal writes about itself.

Each URL maps to one action (URL_ACTIONS, by view name) or is exempted with the reason
(URL_EXEMPTIONS); a test walks the URLconf and fails on a route that has neither.
State changes (roles, users, credentials) are written by their services, in their
transaction, under the `CHANGE` actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    VIEW = "view"  # a page or a list was read
    SEARCH = "search"  # a query with filters
    OPEN = "open"  # one object was opened
    EXPORT = "export"  # something left the portal: a bundle, a report, a file
    CHANGE = "change"  # who may do what changed
    AUTH = "auth"  # login, logout, failed login


@dataclass(frozen=True)
class TrailAction:
    name: str
    kind: Kind
    summary: str


class UnknownTrailAction(LookupError):
    """An action that is not registered here: the trail refuses to invent one."""


ACTIONS: dict[str, TrailAction] = {}


def register(name: str, kind: Kind, summary: str) -> TrailAction:
    if name in ACTIONS:
        raise ValueError(f"trail action {name!r} is registered twice")
    ACTIONS[name] = action = TrailAction(name, kind, summary)
    return action


def action_named(name: str) -> TrailAction:
    try:
        return ACTIONS[name]
    except KeyError:
        raise UnknownTrailAction(f"{name!r} is not a registered trail action") from None


for _name, _kind, _summary in [
    ("events.search", Kind.SEARCH, "searched or listed audit events"),
    ("event.open", Kind.OPEN, "opened one audit event"),
    ("streams.view", Kind.VIEW, "listed streams and their integrity"),
    ("stream.open", Kind.OPEN, "opened a stream or its verification history"),
    ("checkpoints.view", Kind.VIEW, "read signed checkpoints, their notes or the public key"),
    ("checkpoint.proof", Kind.OPEN, "read an inclusion proof"),
    ("evidence.form", Kind.VIEW, "opened the evidence export form"),
    ("evidence.download", Kind.EXPORT, "downloaded an evidence bundle"),
    ("evidence.exports", Kind.VIEW, "requested an evidence export job, or read their list"),
    ("schema.view", Kind.VIEW, "read the API schema or its documentation"),
    ("users.view", Kind.VIEW, "listed users and their roles"),
    ("credentials.view", Kind.VIEW, "listed agent credentials"),
    ("admin.request", Kind.VIEW, "used the Django admin"),
    ("page.view", Kind.VIEW, "viewed a portal page"),
    ("auth.login", Kind.AUTH, "logged in"),
    ("auth.logout", Kind.AUTH, "logged out"),
    ("auth.login_failed", Kind.AUTH, "failed to log in"),
    ("user.create", Kind.CHANGE, "created a user"),
    ("user.deactivate", Kind.CHANGE, "deactivated a user"),
    ("user.reactivate", Kind.CHANGE, "reactivated a user"),
    ("role.assign", Kind.CHANGE, "gave a user a role (and its scope)"),
    ("credential.issue", Kind.CHANGE, "issued an agent ingest credential"),
    ("credential.revoke", Kind.CHANGE, "revoked an agent ingest credential"),
    ("credential.rotate", Kind.CHANGE, "replaced an agent ingest credential"),
    ("integrity.incident", Kind.CHANGE, "an integrity incident was recorded"),
    ("integrity.verification", Kind.CHANGE, "a verification run finished, with its result"),
    ("reports.view", Kind.VIEW, "listed compliance report runs, frameworks or schedules"),
    ("report.open", Kind.OPEN, "opened a compliance report run"),
    ("report.run", Kind.EXPORT, "requested a compliance report run"),
    ("report.download", Kind.EXPORT, "downloaded a compliance report file"),
    ("report.schedule", Kind.CHANGE, "scheduled a compliance report"),
]:
    register(_name, _kind, _summary)


# view name (namespace:name) -> action of a request to it
URL_ACTIONS: dict[str, str] = {
    "portal:events": "events.search",
    "portal:trail": "events.search",
    "people:users": "users.view",
    "people:invite": "user.create",
    "people:role": "role.assign",
    "people:deactivate": "user.deactivate",
    "people:reactivate": "user.reactivate",
    "people:credentials": "credentials.view",
    "people:credential-issue": "credential.issue",
    "people:credential-revoke": "credential.revoke",
    "people:credential-rotate": "credential.rotate",
    "event-list": "events.search",
    "event-detail": "event.open",
    "integrity:streams": "streams.view",
    "integrity:stream": "stream.open",
    "integrity:evidence": "evidence.form",
    "stream-list": "streams.view",
    "stream-detail": "stream.open",
    "stream-verifications": "stream.open",
    "checkpoint-list": "checkpoints.view",
    "checkpoint-detail": "checkpoints.view",
    "checkpoint-note": "checkpoints.view",
    "checkpoint-key": "checkpoints.view",
    "checkpoint-key-pem": "checkpoints.view",
    "checkpoint-proof": "checkpoint.proof",
    "evidence-bundle": "evidence.download",
    "evidence-exports": "evidence.exports",
    "evidence-export": "evidence.exports",
    "evidence-export-download": "evidence.download",
    "checkpoint-incidents": "checkpoints.view",
    "verification-list": "streams.view",
    "verification-latest": "streams.view",
    "report-list": "reports.view",
    "report-frameworks": "reports.view",
    "report-schedules": "reports.view",
    "report-detail": "report.open",
    "report-file": "report.download",
    "reports:list": "reports.view",
    "reports:new": "reports.view",
    "reports:run": "report.open",
    "reports:file": "report.download",
    "schema": "schema.view",
    "schema-docs": "schema.view",
    # Django's own account pages (a signed-in person's password)
    "password_change": "page.view",
    "password_change_done": "page.view",
    "password_reset": "page.view",
    "password_reset_done": "page.view",
    "password_reset_confirm": "page.view",
    "password_reset_complete": "page.view",
}

# view name or namespace -> why a request to it writes no trail event of its own
URL_EXEMPTIONS: dict[str, str] = {
    "healthz": "a liveness probe, unauthenticated",
    "readyz": "a readiness probe, unauthenticated",
    "metrics": "the Prometheus scrape, not a person",
    "ingest": "an agent's batch: it is on the agent's own chain",
    "login": "recorded by the login signals (auth.login, auth.login_failed)",
    "logout": "recorded by the logout signal (auth.logout)",
    "oidc_authentication_init": "a redirect to the identity provider; nothing is read",
    "oidc_authentication_callback": "recorded by the login signals (auth.login, auth.login_failed)",
}
# Every route of these namespaces maps to one action.
NAMESPACE_ACTIONS: dict[str, str] = {"admin": "admin.request"}


def action_for_view(view_name: str, namespace: str = "") -> str | None:
    """The action a request to `view_name` records; None when exempt (or unmapped)."""
    action = URL_ACTIONS.get(view_name)
    if action is None and namespace:
        action = NAMESPACE_ACTIONS.get(namespace.split(":", 1)[0])
    return action
