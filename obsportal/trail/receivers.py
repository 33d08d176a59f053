"""Logins, logouts and failed logins on the trail (Django's auth signals)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from obsportal.ingest.signals import (
    agent_key_pinned,
    agent_key_retired,
    incident_acknowledged,
    integrity_incident,
    verification_finished,
    verification_requested,
)
from obsportal.trail.services import actor_name, record_change, record_trail


def _path(request) -> dict:
    return {"path": request.path} if request is not None else {}


def _address(request) -> dict:
    # An IP address is personal data: the erasable sidecar, not the hashed body.
    return {"remote_addr": request.META.get("REMOTE_ADDR")} if request is not None else {}


@receiver(user_logged_in, dispatch_uid="trail.login")
def _logged_in(sender, request, user, **kwargs) -> None:
    record_trail(
        "auth.login", actor=actor_name(user), details=_path(request), personal=_address(request)
    )


@receiver(user_logged_out, dispatch_uid="trail.logout")
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        record_trail("auth.logout", actor=actor_name(user), details=_path(request))


@receiver(user_login_failed, dispatch_uid="trail.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The name typed is personal data (maybe someone's password typed in the wrong box).
    record_trail(
        "auth.login_failed",
        result="denied",
        details=_path(request),
        personal={"username": credentials.get("username"), **_address(request)},
    )


@receiver(integrity_incident, dispatch_uid="trail.integrity_incident")
def _integrity_incident(sender, kind: str, detail: dict, **kwargs) -> None:
    # Evidence of its own: deleting the incident row leaves this hash-chained event.
    resource = (
        f"stream:{detail['stream']}"
        if "stream" in detail
        else f"checkpoint:{detail.get('checkpoint')}"
    )
    record_trail(
        "integrity.incident", result="failure", resource=resource, details={"kind": kind, **detail}
    )


@receiver(verification_finished, dispatch_uid="trail.verification_finished")
def _verification_finished(sender, detail: dict, **kwargs) -> None:
    result = "success" if detail.get("status") == "verified" else "failure"
    record_trail(
        "integrity.verification", result=result, resource=f"run:{detail['run']}", details=detail
    )


@receiver(verification_requested, dispatch_uid="trail.verification_requested")
def _verification_requested(sender, actor, target, detail: dict, **kwargs) -> None:
    # Sent with `send`, not `send_robust`: a request the trail cannot hold is not made.
    record_change(actor, "integrity.verify_requested", target, detail)


@receiver(incident_acknowledged, dispatch_uid="trail.incident_acknowledged")
def _incident_acknowledged(sender, actor, target, detail: dict, **kwargs) -> None:
    # Sent with `send`: an acknowledgement the trail cannot hold is not made.
    record_change(actor, "incident.acknowledge", target, detail)


@receiver(agent_key_pinned, dispatch_uid="trail.agent_key_pinned")
def _agent_key_pinned(sender, detail: dict, **kwargs) -> None:
    # On the trail: verification holds every pinned key row to its trail event.
    record_trail("agent_key.pin", resource=f"credential:{detail['credential']}", details=detail)


@receiver(agent_key_retired, dispatch_uid="trail.agent_key_retired")
def _agent_key_retired(sender, detail: dict, **kwargs) -> None:
    record_trail(
        "agent_key.retire",
        actor=detail["by"],
        resource=f"credential:{detail['credential']}",
        details=detail,
    )
