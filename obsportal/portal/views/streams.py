"""Stream pages: streams and their integrity, a stream's verification history, evidence export."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from obsportal.accounts.permissions import capability_required, has_capability
from obsportal.accounts.roles import Capability
from obsportal.integrity import incidents, reader_scope, selectors, stream_states
from obsportal.integrity.evidence import BundleRefused
from obsportal.integrity.signing import SigningKeyMissing
from obsportal.integrity.verify_now import requests_for

HISTORY_SHOWN = 50
STREAMS_PER_PAGE = 100
REQUESTS_SHOWN = 5


@capability_required(Capability.STREAMS_READ)
def stream_list(request: HttpRequest) -> HttpResponse:
    latest_run = selectors.latest_run()
    context = {
        "latest_run": latest_run,
        "latest_checkpoint": selectors.latest_checkpoint(),
        # Streams whose rows are gone but which signed checkpoints still name.
        "vanished": selectors.vanished_streams(latest_run)
        if latest_run and reader_scope.sees_everything(request.user)
        else [],
        "states": {name: about for name, (about, _) in stream_states.STREAM_STATES.items()},
        "values": request.GET,
        "agents": selectors.visible_agents(request.user),
        "may_verify": has_capability(request.user, Capability.INTEGRITY_VERIFY)
        and reader_scope.sees_everything(request.user),
    }
    states = stream_states.stream_states(request.user)
    context["counts"] = stream_states.stream_state_counts(request.user, states)
    try:
        page = stream_states.stream_page(request.user, request.GET, STREAMS_PER_PAGE, states)
    except reader_scope.InvalidFilter as exc:
        context.update(error=exc.errors, page=None)
        return render(request, "portal/stream_list.html", context, status=400)
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("before", None)
    context.update(page=page, query=query.urlencode())
    return render(request, "portal/stream_list.html", context)


@capability_required(Capability.STREAMS_READ)
def stream_detail(request: HttpRequest, stream_id: str) -> HttpResponse:
    if not selectors.stream_readable(request.user, stream_id):
        raise Http404(f"no stream {stream_id}")
    stream = selectors.streams_with_last_verification().filter(pk=stream_id).first()
    history = list(selectors.stream_verifications(stream_id)[:HISTORY_SHOWN])
    if stream is None and not history:
        raise Http404(f"no stream {stream_id}")
    jobs = list(requests_for(stream_id)[:REQUESTS_SHOWN]) if stream else []
    context = {
        "stream": stream,
        "stream_id": stream_id,
        "history": history,
        "jobs": jobs,
        # While a requested run is queued or running the page refreshes itself.
        "job_active": any(job.status in ("queued", "running") for job in jobs),
        "may_verify": stream is not None
        and has_capability(request.user, Capability.INTEGRITY_VERIFY),
        "incidents": list(incidents.incidents(request.user, {"stream": stream_id}))[:20]
        if stream
        else [],
    }
    return render(request, "portal/stream_detail.html", context)


@capability_required(Capability.EVIDENCE_EXPORT)
def evidence_export(request: HttpRequest) -> HttpResponse:
    """The form, and on submit the bundle file itself."""
    error = None
    if request.GET.get("export"):
        try:
            bundle = selectors.direct_bundle(selectors.evidence_query(request.GET, request.user))
        except selectors.InvalidEvidenceQuery as exc:
            error = exc.errors
        except (selectors.EvidenceOutOfScope, BundleRefused, SigningKeyMissing) as exc:
            error = {"detail": str(exc)}
        else:
            response = FileResponse(
                bundle.file,
                as_attachment=True,
                filename=bundle.filename,
                content_type="application/jsonl",
            )
            response.trail_details = bundle.trail_details
            return response
    context = {
        "agents": selectors.visible_agents(request.user),
        "error": error,
        "values": request.GET,
    }
    return render(request, "portal/evidence.html", context, status=400 if error else 200)
