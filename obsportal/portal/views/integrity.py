"""Integrity pages: incidents (forks side by side, gaps, checkpoint incidents, findings),
checkpoints with their signed notes and the public key, dead letters, and "verify now"."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from obsportal.accounts.permissions import capability_required, has_capability
from obsportal.accounts.roles import Capability
from obsportal.ingest.verdicts import Reason
from obsportal.integrity import acknowledgements, incidents, keyset, reader_scope
from obsportal.integrity.models import CheckpointIncident
from obsportal.integrity.signing import SigningKeyMissing, load_signing_key
from obsportal.integrity.verify_now import UnknownStream, request_verification

PER_PAGE = 50
HEADS_SHOWN = 200


def _as_json(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _pretty_sample(sample: object) -> str:
    """A dead letter's sample, indented; a sample kept as the raw text it arrived as (the
    batch did not parse, or was kept verbatim) is shown parsed when it parses, else as is."""
    if isinstance(sample, str):
        try:
            sample = json.loads(sample)
        except ValueError:
            return sample
    return json.dumps(sample, indent=2, ensure_ascii=False)


def _bad_filter(request: HttpRequest, template: str, exc: reader_scope.InvalidFilter, **context):
    return render(request, template, {**context, "error": exc.errors}, status=400)


@capability_required(Capability.STREAMS_READ)
def incident_list(request: HttpRequest) -> HttpResponse:
    context = {
        "kinds": incidents.INCIDENT_KINDS,
        "states": incidents.INCIDENT_STATES,
        "values": request.GET,
        "counts": incidents.incident_counts(request.user),
        "may_acknowledge": has_capability(request.user, Capability.INCIDENTS_ACKNOWLEDGE),
    }
    try:
        rows, number = incidents.incident_page(request.user, request.GET, PER_PAGE)
    except reader_scope.InvalidFilter as exc:
        return _bad_filter(request, "portal/incident_list.html", exc, rows=[], **context)
    query = request.GET.copy()
    query.pop("page", None)
    shown = rows[:PER_PAGE]
    acknowledged = acknowledgements.acknowledgements_of(shown)
    context.update(
        rows=[(i, acknowledged.get((i.kind, i.fingerprint))) for i in shown],
        page=number,
        next_page=number + 1 if len(rows) > PER_PAGE else None,
        previous_page=number - 1 if number > 1 else None,
        query=query.urlencode(),
    )
    return render(request, "portal/incident_list.html", context)


@capability_required(Capability.INCIDENTS_ACKNOWLEDGE)
@require_http_methods(["GET", "POST"])
def acknowledge_incident(request: HttpRequest) -> HttpResponse:
    """GET: the incident and a note to write; POST: acknowledge it (on the trail)."""
    data = request.POST if request.method == "POST" else request.GET
    kind, ref = data.get("kind", ""), data.get("ref", "")
    incident = incidents.find_incident(request.user, kind, ref)
    if incident is None:
        raise Http404(f"no {kind or 'such'} incident {ref}")
    existing = acknowledgements.acknowledgements_of([incident]).get(
        (incident.kind, incident.fingerprint)
    )
    context = {"incident": incident, "existing": existing, "note": data.get("note", "")}
    if request.method == "POST" and existing is None:
        try:
            acknowledgements.acknowledge(request.user, kind, ref, data.get("note", ""))
        except acknowledgements.UnknownIncident as exc:
            raise Http404(str(exc)) from exc
        except acknowledgements.AcknowledgementRefused as exc:
            status = 409 if isinstance(exc, acknowledgements.AlreadyAcknowledged) else 400
            context["error"] = exc
            return render(request, "portal/incident_acknowledge.html", context, status=status)
        return redirect(reverse("integrity:incidents") + "?state=acknowledged")
    status = 409 if request.method == "POST" else 200
    return render(request, "portal/incident_acknowledge.html", context, status=status)


@capability_required(Capability.STREAMS_READ)
def fork_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sides = incidents.fork_sides(request.user, pk)
    if sides is None:
        raise Http404(f"no fork {pk}")
    shown = [
        (name, _as_json(left), _as_json(right), differs)
        for name, left, right, differs in sides.fields
    ]
    context = {
        "fork": sides,
        "fields": shown,
        "original_json": json.dumps(sides.original, indent=2, ensure_ascii=False),
        "candidate_json": json.dumps(sides.candidate, indent=2, ensure_ascii=False),
    }
    return render(request, "portal/incident_fork.html", context)


@capability_required(Capability.STREAMS_READ)
def gap_detail(request: HttpRequest, stream_id: str) -> HttpResponse:
    gap = incidents.gap_of(request.user, stream_id)
    if gap is None:
        raise Http404(f"no open gap in stream {stream_id}")
    return render(request, "portal/incident_gap.html", {"gap": gap})


@capability_required(Capability.STREAMS_READ)
def checkpoint_incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = incidents.checkpoint_incidents(request.user).filter(pk=pk).first()
    if incident is None:
        raise Http404(f"no checkpoint incident {pk}")
    checkpoint = (
        reader_scope.visible_checkpoints(request.user)
        .filter(number=incident.checkpoint_number)
        .first()
    )
    context = {"incident": incident, "checkpoint": checkpoint, "kinds": CheckpointIncident.Kind}
    return render(request, "portal/incident_checkpoint.html", context)


@capability_required(Capability.STREAMS_READ)
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = incidents.finding_of(request.user, pk)
    if finding is None:
        raise Http404(f"no finding {pk}")
    return render(request, "portal/incident_finding.html", {"finding": finding})


def _public_key() -> dict | None:
    try:
        key = load_signing_key()
    except SigningKeyMissing:
        return None
    return {
        "name": key.name,
        "key_id": key.key_id,
        "verifier_key": key.verifier_key,
        "pem": key.public_pem,
    }


@capability_required(Capability.STREAMS_READ)
def checkpoint_list(request: HttpRequest) -> HttpResponse:
    rows = reader_scope.visible_checkpoints(request.user)
    try:
        page = keyset.keyset_page(rows, "number", request.GET, PER_PAGE, newest_first=True)
    except (ValueError, TypeError):
        raise Http404("no such page of checkpoints") from None
    context = {
        "page": page,
        "public_key": _public_key(),
        "scoped": not reader_scope.sees_everything(request.user),
    }
    return render(request, "portal/checkpoint_list.html", context)


@capability_required(Capability.STREAMS_READ)
def checkpoint_detail(request: HttpRequest, number: int) -> HttpResponse:
    checkpoint = reader_scope.visible_checkpoints(request.user).filter(number=number).first()
    if checkpoint is None:
        raise Http404(f"no checkpoint {number}")
    heads = reader_scope.checkpoint_heads_for(request.user, checkpoint)
    if stream := request.GET.get("stream"):
        heads = heads.filter(stream_id=stream)
    context = {
        "checkpoint": checkpoint,
        "heads": list(heads[:HEADS_SHOWN]),
        "heads_shown": HEADS_SHOWN,
        "public_key": _public_key(),
        "scoped": not reader_scope.sees_everything(request.user),
        "stream": stream or "",
    }
    return render(request, "portal/checkpoint_detail.html", context)


@capability_required(Capability.STREAMS_READ)
def dead_letter_list(request: HttpRequest) -> HttpResponse:
    context = {
        "values": request.GET,
        "reasons": incidents.dead_letter_reasons(request.user),
        "all_reasons": [r.value for r in Reason],
    }
    try:
        rows = incidents.dead_letters(request.user, request.GET)
        page = keyset.keyset_page(rows, "id", request.GET, PER_PAGE, newest_first=True)
    except reader_scope.InvalidFilter as exc:
        return _bad_filter(request, "portal/dead_letter_list.html", exc, page=None, **context)
    except (ValueError, TypeError):
        raise Http404("no such page of dead letters") from None
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("before", None)
    context.update(page=page, query=query.urlencode())
    return render(request, "portal/dead_letter_list.html", context)


@capability_required(Capability.STREAMS_READ)
def dead_letter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    letter = incidents.dead_letters(request.user, {}).filter(pk=pk).first()
    if letter is None:
        raise Http404(f"no dead letter {pk}")
    context = {
        "letter": letter,
        "sample_json": _pretty_sample(letter.sample),
    }
    return render(request, "portal/dead_letter_detail.html", context)


@capability_required(Capability.INTEGRITY_VERIFY)
@require_POST
def verify_now(request: HttpRequest) -> HttpResponse:
    """Queue a verification of one stream (or all): on the trail first, then the job."""
    stream_id = request.POST.get("stream_id")
    if stream_id is not None and not reader_scope.stream_in_scope(request.user, stream_id):
        raise Http404(f"no stream {stream_id}")
    if stream_id is None and not reader_scope.sees_everything(request.user):
        raise Http404("a scoped role verifies one stream at a time")
    try:
        job = request_verification(request.user, stream_id)
    except UnknownStream as exc:
        raise Http404(str(exc)) from exc
    if stream_id is not None:
        return redirect(reverse("integrity:stream", args=[stream_id]) + f"?request={job.pk}")
    return redirect("integrity:verification-request", pk=job.pk)


@capability_required(Capability.STREAMS_READ)
def verification_request(request: HttpRequest, pk: int) -> HttpResponse:
    job = reader_scope.visible_verification_requests(request.user).filter(pk=pk).first()
    if job is None:
        raise Http404(f"no verification request {pk}")
    return render(request, "portal/verification_request.html", {"job": job})
