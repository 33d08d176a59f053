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
    ("trail.recover", Kind.CHANGE, "stored the events a killed portal process left in its journal"),
    ("overview.view", Kind.VIEW, "read the overview: volumes, integrity, incidents"),
    ("events.export", Kind.EXPORT, "requested an export of event search results (CSV or JSON)"),
    ("events.exports", Kind.VIEW, "listed their exports of event search results"),
    ("events.export_download", Kind.EXPORT, "downloaded an export of event search results"),
    ("searches.change", Kind.CHANGE, "saved or deleted a saved event search"),
    ("integrity.verify_requested", Kind.CHANGE, "asked for a verification run (verify now)"),
    ("incidents.view", Kind.VIEW, "listed integrity incidents"),
    ("incident.open", Kind.OPEN, "opened an integrity incident (a fork, a gap, a finding)"),
    (
        "incident.acknowledge",
        Kind.CHANGE,
        "put on record that an integrity incident was looked at, with a note",
    ),
    ("dead_letters.view", Kind.VIEW, "listed dead letters (refused batches)"),
    ("dead_letter.open", Kind.OPEN, "opened a dead letter and its redacted sample"),
    ("verification.open", Kind.OPEN, "read a verify-now request and its progress"),
]:
    register(_name, _kind, _summary)

# Retention (obsportal.retention): policies, holds, plans, runs and each prune's anchor.
for _name, _kind, _summary in [
    ("retention.view", Kind.VIEW, "read retention policies, holds, plans or runs"),
    ("retention.dry_run", Kind.VIEW, "ran a retention dry run"),
    ("retention.policy.request", Kind.CHANGE, "requested a retention policy change"),
    ("retention.policy.approve", Kind.CHANGE, "approved a retention policy change"),
    ("retention.policy.reject", Kind.CHANGE, "rejected a retention policy change"),
    ("hold.place", Kind.CHANGE, "placed a legal hold"),
    ("hold.release", Kind.CHANGE, "released a legal hold"),
    ("retention.plan.propose", Kind.CHANGE, "proposed a retention plan (a frozen dry run)"),
    ("retention.plan.approve", Kind.CHANGE, "approved a retention plan"),
    ("retention.plan.reject", Kind.CHANGE, "rejected a retention plan"),
    ("retention.run", Kind.CHANGE, "a retention run started or finished"),
    ("retention.prune", Kind.CHANGE, "retention pruned a stream's oldest range (its anchor)"),
    (
        "subject.request",
        Kind.CHANGE,
        "received a data-subject request (access, erasure, accounting)",
    ),
    ("subject.extend", Kind.CHANGE, "extended a data-subject request's deadline, with the reason"),
    ("subject.export", Kind.EXPORT, "built a data subject's export (recorded before it is built)"),
    ("subject.erasure", Kind.CHANGE, "erased a data subject's personal data: the signed receipt"),
    ("subjects.view", Kind.VIEW, "listed data-subject requests or opened one"),
    ("subject.download", Kind.EXPORT, "downloaded a data subject's export file"),
    ("declarations.view", Kind.VIEW, "read the agents' declarations of processing"),
    ("subject.erase_attempt", Kind.CHANGE, "asked for an erasure that did not happen"),
    ("declaration.change", Kind.CHANGE, "declared an agent's processing (purposes, recipients)"),
    ("agent_key.pin", Kind.CHANGE, "pinned an agent's head-signing key to its credential"),
    ("agent_key.retire", Kind.CHANGE, "retired an agent's pinned key, so a new one may be pinned"),
    ("reports.view", Kind.VIEW, "listed compliance report runs, frameworks or schedules"),
    ("report.open", Kind.OPEN, "opened a compliance report run"),
    ("report.run", Kind.EXPORT, "requested a compliance report run"),
    ("report.download", Kind.EXPORT, "downloaded a compliance report file"),
    ("report.schedule", Kind.CHANGE, "scheduled a compliance report"),
    ("report.recipients", Kind.CHANGE, "set the addresses a scheduled report is emailed to"),
    ("report.email", Kind.EXPORT, "emailed a finished report to a recipient (or failed to)"),
]:
    register(_name, _kind, _summary)


# view name (namespace:name) -> action of a request to it
URL_ACTIONS: dict[str, str] = {
    "portal:events": "events.search",
    "portal:trail": "events.search",
    "portal:overview": "overview.view",
    "portal:event": "event.open",
    "portal:event-proof": "checkpoint.proof",
    "portal:event-export": "events.export",
    "portal:event-exports": "events.exports",
    "portal:event-export-download": "events.export_download",
    "portal:saved-searches": "searches.change",
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
    "stream-personal-data": "stream.open",
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
    "subject-request-list": "subjects.view",
    "subject-request-counts": "subjects.view",
    "subject-request-detail": "subjects.view",
    "subject-request-export": "subject.export",
    "subject-request-erase": "subject.erase_attempt",
    "subject-request-extend": "subject.extend",
    "subject-request-file": "subject.download",
    "agent-declaration-list": "declarations.view",
    "portal:subjects": "subjects.view",
    "portal:subject": "subjects.view",
    "portal:subject-file": "subject.download",
    "report-list": "reports.view",
    "report-frameworks": "reports.view",
    "report-schedules": "reports.view",
    "report-schedule-recipients": "report.recipients",
    "report-detail": "report.open",
    "report-file": "report.download",
    "reports:list": "reports.view",
    "reports:new": "reports.view",
    "reports:run": "report.open",
    "reports:file": "report.download",
    "reports:recipients": "report.recipients",
    "schema": "schema.view",
    # The integrity pages (portal) and their API counterparts
    "integrity:checkpoints": "checkpoints.view",
    "integrity:checkpoint": "checkpoints.view",
    "integrity:incidents": "incidents.view",
    # GET shows the incident and the form; a POST records its own incident.acknowledge.
    "integrity:incident-acknowledge": "incident.open",
    "integrity:fork": "incident.open",
    "integrity:gap": "incident.open",
    "integrity:checkpoint-incident": "incident.open",
    "integrity:finding": "incident.open",
    "integrity:dead-letters": "dead_letters.view",
    "integrity:dead-letter": "dead_letter.open",
    "integrity:verify-now": "integrity.verify_requested",
    "integrity:verification-request": "verification.open",
    "incident-list": "incidents.view",
    # GET lists (a view); a POST records its own incident.acknowledge (a change).
    "incident-acknowledgements": "incidents.view",
    "fork-detail": "incident.open",
    "dead-letter-list": "dead_letters.view",
    "dead-letter-detail": "dead_letter.open",
    "verification-request-list": "integrity.verify_requested",
    "verification-request-detail": "verification.open",
    "retention-policies": "retention.view",
    "retention-policy": "retention.view",
    "retention-changes": "retention.view",
    "retention-change-approve": "retention.policy.approve",
    "retention-change-reject": "retention.policy.reject",
    "retention-holds": "retention.view",
    "retention-hold-release": "hold.release",
    "retention-dry-run": "retention.dry_run",
    "retention-plans": "retention.view",
    "retention-plan": "retention.view",
    "retention-plan-approve": "retention.plan.approve",
    "retention-plan-reject": "retention.plan.reject",
    "retention-runs": "retention.view",
    "retention-floors": "retention.view",
    "retention:overview": "retention.view",
    "retention:plan": "retention.view",
    "retention:policy-request": "retention.policy.request",
    "retention:policy-change": "retention.policy.request",
    "retention:change-approve": "retention.policy.approve",
    "retention:change-reject": "retention.policy.reject",
    "retention:hold-place": "hold.place",
    "retention:hold-release": "hold.release",
    "retention:plan-propose": "retention.plan.propose",
    "retention:plan-approve": "retention.plan.approve",
    "retention:plan-reject": "retention.plan.reject",
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
