"""Portal pages: streams and their integrity, a stream's verification history, evidence export."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.exceptions import APIException

from obsportal.accounts.permissions import capability_required, visible_streams
from obsportal.accounts.roles import Capability
from obsportal.ingest.models import Stream
from obsportal.integrity import selectors
from obsportal.integrity.api import ensure_stream_readable
from obsportal.integrity.evidence_api import bundle_response, parse_bundle_query

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
    return render(request, "integrity/stream_list.html", context)


@capability_required(Capability.STREAMS_READ)
def stream_detail(request: HttpRequest, stream_id: str) -> HttpResponse:
    try:
        ensure_stream_readable(request.user, stream_id)
    except APIException as exc:
        raise Http404(str(exc.detail)) from exc
    stream = selectors.streams_with_last_verification().filter(pk=stream_id).first()
    history = list(selectors.stream_verifications(stream_id)[:HISTORY_SHOWN])
    if stream is None and not history:
        raise Http404(f"no stream {stream_id}")
    context = {"stream": stream, "stream_id": stream_id, "history": history}
    return render(request, "integrity/stream_detail.html", context)


@capability_required(Capability.EVIDENCE_EXPORT)
def evidence_export(request: HttpRequest) -> HttpResponse:
    """The form, and on submit the bundle file itself."""
    error = None
    if request.GET.get("export"):
        try:
            return bundle_response(*parse_bundle_query(request.GET, request.user))
        except APIException as exc:
            error = exc.detail
    agents = (
        visible_streams(Stream.objects.order_by("agent_id"), request.user)
        .values_list("agent_id", flat=True)
        .distinct()
    )
    context = {"agents": agents, "error": error, "values": request.GET}
    return render(request, "integrity/evidence.html", context, status=400 if error else 200)
