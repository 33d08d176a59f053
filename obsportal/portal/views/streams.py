"""Stream pages: streams and their integrity, a stream's verification history, evidence export."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from obsportal.accounts.permissions import capability_required, visible_streams
from obsportal.accounts.roles import Capability
from obsportal.integrity import selectors
from obsportal.integrity.evidence import BundleRefused
from obsportal.integrity.signing import SigningKeyMissing

HISTORY_SHOWN = 50


@capability_required(Capability.STREAMS_READ)
def stream_list(request: HttpRequest) -> HttpResponse:
    latest_run = selectors.latest_run()
    context = {
        "streams": visible_streams(selectors.streams_with_last_verification(), request.user),
        "latest_run": latest_run,
        "latest_checkpoint": selectors.latest_checkpoint(),
        # Streams whose rows are gone but which signed checkpoints still name.
        "vanished": selectors.vanished_streams(latest_run) if latest_run else [],
    }
    return render(request, "portal/stream_list.html", context)


@capability_required(Capability.STREAMS_READ)
def stream_detail(request: HttpRequest, stream_id: str) -> HttpResponse:
    if not selectors.stream_readable(request.user, stream_id):
        raise Http404(f"no stream {stream_id}")
    stream = selectors.streams_with_last_verification().filter(pk=stream_id).first()
    history = list(selectors.stream_verifications(stream_id)[:HISTORY_SHOWN])
    if stream is None and not history:
        raise Http404(f"no stream {stream_id}")
    context = {"stream": stream, "stream_id": stream_id, "history": history}
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
