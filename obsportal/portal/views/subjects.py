"""Data-subject request pages: the list with its deadlines, one request with its actions."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from obsportal.accounts.permissions import capability_required, has_capability
from obsportal.accounts.roles import Capability
from obsportal.compliance.models import SubjectRequest
from obsportal.compliance.renderers import subject_export as renderers
from obsportal.compliance.subjects import deadlines, erasure, exports, requests


@capability_required(Capability.SUBJECTS_READ)
@require_http_methods(["GET", "POST"])
def subject_requests(request: HttpRequest) -> HttpResponse:
    """The requests, overdue first; an officer receives a new one from the form."""
    error = None
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        needed = Capability.SUBJECTS_ERASE if kind == "erasure" else Capability.SUBJECTS_EXPORT
        if not has_capability(request.user, needed):
            return HttpResponse(f"Your role does not allow {needed}.", status=403)
        try:
            created = requests.create_request(
                kind=kind,
                identifier=request.POST.get("identifier", ""),
                framework=request.POST.get("framework") or None,
                legal_ground=request.POST.get("legal_ground", ""),
                actor=request.user,
            )
        except requests.RequestRefused as exc:
            error = str(exc)
        else:
            return redirect("portal:subject", pk=created.pk)
    now = timezone.now()
    rows = sorted(
        SubjectRequest.objects.all()[:200],
        key=lambda r: (r.status == SubjectRequest.Status.COMPLETED, r.deadline),
    )
    context = {
        "requests": [
            {"r": r, "overdue": r.status != "completed" and r.deadline < now} for r in rows
        ],
        "counts": deadlines.request_counts(now),
        "may_see_person": has_capability(request.user, Capability.SUBJECTS_EXPORT),
        "may_erase": has_capability(request.user, Capability.SUBJECTS_ERASE),
        "kinds": SubjectRequest.Kind.choices,
        "error": error,
    }
    return render(request, "portal/subject_requests.html", context, status=400 if error else 200)


@capability_required(Capability.SUBJECTS_READ)
@require_http_methods(["GET", "POST"])
def subject_request(request: HttpRequest, pk) -> HttpResponse:
    """One request; POST `action` = export | erase | extend, each behind its capability."""
    subject = get_object_or_404(SubjectRequest, pk=pk)
    error = None
    if request.method == "POST":
        action = request.POST.get("action")
        needed = Capability.SUBJECTS_ERASE if action == "erase" else Capability.SUBJECTS_EXPORT
        if not has_capability(request.user, needed):
            return HttpResponse(f"Your role does not allow {needed}.", status=403)
        try:
            if action == "export":
                exports.request_export(subject, actor=request.user)
            elif action == "erase":
                erasure.erase_subject(subject, actor=request.user)
            elif action == "extend":
                requests.extend_request(subject, request.POST.get("reason", ""), actor=request.user)
            else:
                error = f"unknown action {action!r}"
        except requests.RequestRefused as exc:
            error = str(exc)
        if error is None:
            return redirect("portal:subject", pk=subject.pk)
        subject.refresh_from_db()
    context = {
        "s": subject,
        "overdue": subject.status != "completed" and subject.deadline < timezone.now(),
        "may_see_person": has_capability(request.user, Capability.SUBJECTS_EXPORT),
        "may_erase": has_capability(request.user, Capability.SUBJECTS_ERASE),
        "error": error,
    }
    return render(request, "portal/subject_request.html", context, status=400 if error else 200)


@capability_required(Capability.SUBJECTS_EXPORT)
def subject_file(request: HttpRequest, pk, fmt: str) -> HttpResponse:
    subject = get_object_or_404(SubjectRequest, pk=pk)
    path = renderers.file_path(subject, fmt) if fmt in renderers.FORMATS else None
    if path is None or not path.is_file():
        raise Http404(f"no {fmt} file for request {subject.reference}")
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=path.name,
        content_type=renderers.CONTENT_TYPES[fmt],
    )
    response.trail_details = {"request": str(subject.pk), "format": fmt}
    return response
