"""The events pages: search (the API's own filter, selector and cursor paging), one
event with its place in the chain, exports of a search, saved searches, and the
portal's own trail."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from obsportal.accounts.permissions import capability_required, has_capability
from obsportal.accounts.roles import Capability
from obsportal.events import exports, selectors, services
from obsportal.events.api import EventCursorPagination
from obsportal.events.filters import ORDERS
from obsportal.events.models import EventExport
from obsportal.events.selectors import InvalidEventQuery, search_events
from obsportal.ingest.envelope import as_envelope
from obsportal.telemetry.links import dashboard_url, trace_url
from obsportal.trail.services import READ_YOUR_OWN_TRAIL_SECONDS, flush_trail

FILTERS = ("agent_id", "action", "result", "user_id", "resource", "stream", "trace_id")
RESULTS = ("success", "failure", "denied", "error")
PAGE_SIZES = (25, 50, 100, 200)
EXPORTS_SHOWN = 20


class PagePagination(EventCursorPagination):
    """The API's cursor paging, with the page's own default size."""

    page_size = 50


@capability_required(Capability.EVENTS_READ)
def event_list(request: HttpRequest) -> HttpResponse:
    """Search: every filter of the API, combinable, in the URL; cursor paging both ways."""
    return _render_search(request, _filled(request.GET), {})


def _filled(query: QueryDict) -> QueryDict:
    """The form sends every field, the unused ones empty: those mean "any" here (the API,
    which no form fills, refuses an empty value instead)."""
    if all(value for value in query.values()):
        return query
    kept = QueryDict(mutable=True)
    for name, values in query.lists():
        if any(values):
            kept.setlist(name, [v for v in values if v])
    return kept


@capability_required(Capability.TRAIL_READ)
def trail(request: HttpRequest) -> HttpResponse:
    """The portal's own audit trail: who read, searched, exported or changed what."""
    query = _filled(request.GET).copy()
    query["agent_id"] = settings.OBSPORTAL_TRAIL_AGENT_ID
    # What this reader just did is on the page: this process's copy is stored first.
    behind = flush_trail(READ_YOUR_OWN_TRAIL_SECONDS)
    return _render_search(
        request,
        query,
        {"heading": "The portal's own audit trail", "trail": True, "trail_behind": behind},
    )


def _render_search(request: HttpRequest, query: QueryDict, context: dict[str, Any]) -> HttpResponse:
    context = {
        **context,
        "values": {name: query.get(name, "") for name in (*FILTERS, "since", "until")},
        "order": query.get("order") or "newest",
        "orders": ORDERS,
        "results": RESULTS,
        "page_sizes": PAGE_SIZES,
        "page_size": query.get("page_size") or str(PagePagination.page_size),
        "filtered": any(query.get(name) for name in (*FILTERS, "since", "until")),
        "query_string": exports.search_query(query),
        "can_export": has_capability(request.user, Capability.EVENTS_EXPORT),
        "saved": services.saved_searches(request.user),
    }
    try:
        events = search_events(query, request.user)
        paginator = PagePagination()
        drf_request = Request(request)
        drf_request._request.GET = query  # the trail page pins its agent
        page = paginator.paginate_queryset(events, drf_request)
    except InvalidEventQuery as exc:
        return _refused(request, context, exc.errors)
    except APIException as exc:  # an altered cursor, a page_size out of range
        detail = exc.detail if isinstance(exc.detail, dict) else {"cursor": [str(exc.detail)]}
        return _refused(request, context, {k: [str(m) for m in v] for k, v in detail.items()})
    context.update(
        events=page,
        next_url=_page_link(paginator.get_next_link()),
        previous_url=_page_link(paginator.get_previous_link()),
    )
    return render(request, "portal/event_list.html", context)


def _refused(request: HttpRequest, context: dict[str, Any], errors: dict) -> HttpResponse:
    errors = {k: v if isinstance(v, list) else [str(v)] for k, v in errors.items()}
    context = {**context, "events": [], "error": errors}
    return render(request, "portal/event_list.html", context, status=400)


def _page_link(url: str | None) -> str | None:
    """DRF builds an absolute URL; the page links relative to itself."""
    if not url:
        return None
    return "?" + url.split("?", 1)[1] if "?" in url else "?"


@capability_required(Capability.EVENTS_READ)
def event_detail(request: HttpRequest, event_id) -> HttpResponse:
    """One event: every field, its chain position, verification, checkpoint and trace."""
    detail = selectors.event_detail(event_id, request.user)
    if detail is None:
        raise Http404("no such event")
    may_see_personal = has_capability(request.user, Capability.PII_READ)
    event = detail.event
    envelope = as_envelope(event)
    context = {
        "detail": detail,
        "event": event,
        "details_pretty": orjson.dumps(
            envelope.get("details", {}), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        ).decode(),
        "envelope_pretty": orjson.dumps(envelope, option=orjson.OPT_INDENT_2).decode(),
        "may_see_personal": may_see_personal,
        "trace_link": trace_url(event.trace_id),
        "agent_dashboard": dashboard_url("agents", event.agent_id, event.ts),
        "is_trail": event.agent_id == settings.OBSPORTAL_TRAIL_AGENT_ID,
    }
    response = render(request, "portal/event_detail.html", context)
    shown = [f.name for f in detail.personal if not f.erased] if may_see_personal else []
    if shown:  # on this request's trail event: whose personal data was read
        response.trail_details = {"personal_data_shown": shown}
    return response


@capability_required(Capability.STREAMS_READ)
def event_proof(request: HttpRequest, event_id) -> HttpResponse:
    """The inclusion proof of an event in the first checkpoint covering it, as a file."""
    detail = selectors.event_detail(event_id, request.user)
    if detail is None:
        raise Http404("no such event")
    try:
        proof = selectors.inclusion_proof(detail)
    except selectors.NotCovered as exc:
        raise Http404(str(exc)) from exc
    response = JsonResponse(proof, json_dumps_params={"indent": 1}, content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="proof-{event_id}-checkpoint-{proof["checkpoint"]}.json"'
    )
    return response


# -- exports ---------------------------------------------------------------------------


@capability_required(Capability.EVENTS_EXPORT)
@require_http_methods(["GET", "POST"])
def event_exports(request: HttpRequest) -> HttpResponse:
    """POST: export the search in the form (CSV or JSON, as a job). GET: my exports."""
    error = None
    if request.method == "POST":
        params = QueryDict(request.POST.get("query", ""))
        try:
            export = exports.request_event_export(
                params, request.POST.get("format", ""), request.user
            )
        except InvalidEventQuery as exc:
            error = {k: " ".join(v) for k, v in exc.errors.items()}
        except ValueError as exc:
            error = {"format": str(exc)}
        else:
            return redirect(reverse("portal:event-exports") + f"?requested={export.pk}")
    mine = EventExport.objects.filter(requested_by=request.user)[:EXPORTS_SHOWN]
    context = {"exports": mine, "error": error, "requested": request.GET.get("requested")}
    return render(request, "portal/event_exports.html", context, status=400 if error else 200)


@capability_required(Capability.EVENTS_EXPORT)
def event_export_download(request: HttpRequest, pk: int) -> HttpResponse:
    export = EventExport.objects.filter(pk=pk, requested_by=request.user).first()
    if export is None or export.status != EventExport.Status.DONE:
        raise Http404("no such export ready")
    path = exports.export_path(export)
    if not path.exists():
        raise Http404("the export's file is gone")
    content_type = "text/csv" if export.format == "csv" else "application/json"
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=export.file_name, content_type=content_type
    )
    response.trail_details = {
        "export": export.pk,
        "rows": export.rows,
        "bytes": export.size_bytes,
        "sha256": export.sha256,
    }
    return response


# -- saved searches --------------------------------------------------------------------


@capability_required(Capability.EVENTS_READ)
@require_POST
def saved_searches(request: HttpRequest) -> HttpResponse:
    """Save the search in the form under a name, or delete one of mine."""
    if request.POST.get("delete"):
        try:
            search_id = int(request.POST["delete"])
        except ValueError:
            return HttpResponseBadRequest("delete takes the id of one of your saved searches.")
        services.delete_search(request.user, search_id)
        return redirect("portal:events")
    query = QueryDict(request.POST.get("query", ""))
    try:
        services.save_search(request.user, request.POST.get("name", ""), query)
    except InvalidEventQuery as exc:
        return HttpResponseBadRequest(f"Not saved: {exc}")
    except services.SearchNotSaved as exc:
        return HttpResponseBadRequest(str(exc))
    return redirect(reverse("portal:events") + ("?" + urlencode(list(query.lists()), doseq=True)))
