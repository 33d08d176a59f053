"""Segregation of duties: a destructive request needs a second person to approve it."""

from __future__ import annotations

from obsportal.accounts.permissions import has_capability
from obsportal.accounts.roles import Capability


class ApprovalRefused(Exception):
    """The approver may not approve this request; the message says why."""


def ensure_separate_approver(requested_by, approver, capability: Capability) -> None:
    """Refuse unless `approver` is another active person who holds `capability`.

    Retention runs, legal-hold releases and erasures call this before acting: nobody
    approves their own destructive request.
    """
    if approver is None or not getattr(approver, "is_authenticated", False):
        raise ApprovalRefused("an approval needs a signed-in approver")
    if requested_by is not None and approver.pk == requested_by.pk:
        raise ApprovalRefused(
            f"{approver.get_username()} requested this and cannot also approve it"
        )
    if not has_capability(approver, capability):
        raise ApprovalRefused(f"{approver.get_username()}'s role does not allow {capability}")
