"""Deny by default: every route declares its capability, and each role gets what the table says."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from obsportal.accounts.permissions import (
    PUBLIC,
    PUBLIC_NAMESPACES,
    PUBLIC_URLS,
    declared_capability,
)
from obsportal.accounts.roles import ROLE_CAPABILITIES, Capability, Role
from tests.accounts.urlwalk import routes

pytestmark = pytest.mark.django_db

REFUSED = {401, 403}


def _is_exempt(route) -> bool:
    top = route.namespace.split(":", 1)[0]
    return route.view_name in PUBLIC_URLS or top in PUBLIC_NAMESPACES


def _declared(route, method: str = "GET"):
    return declared_capability(route.callback, method)


def test_every_route_declares_a_capability_or_why_it_is_public():
    undeclared = [
        r.pattern
        for r in routes()
        if not _is_exempt(r) and _declared(r) is None and _declared(r, "POST") is None
    ]
    assert undeclared == []
    for route in routes():
        if _declared(route) == PUBLIC:
            view = route.view_class or route.callback
            assert view.public_reason, route.pattern


def test_every_declared_capability_is_one_of_the_table():
    known = {c.value for c in Capability} | {PUBLIC}
    for route in routes():
        for method in ("GET", "POST"):
            declared = _declared(route, method)
            assert declared is None or declared in known, route.pattern


def test_a_view_that_declares_nothing_is_refused_even_when_signed_in(clients):
    from rest_framework.views import APIView

    from obsportal.accounts.permissions import HasCapability

    class Undeclared(APIView):
        pass

    request = type("R", (), {"method": "GET", "user": None})()
    assert HasCapability().has_permission(request, Undeclared()) is False


def _concrete(route, two_agents) -> str:
    stream = two_agents["agent-a"][0]["stream"]
    values = {
        "<uuid:event_id>": two_agents["agent-a"][0]["event_id"],
        "<str:stream_id>": stream,
        "<stream_id:stream_id>": stream,
        "<int:number>": str(two_agents["checkpoint"].number),
        "<int:pk>": "1",
        # a subject request that does not exist: an allowed role gets a 404, not a refusal
        "<uuid:pk>": "00000000-0000-4000-8000-000000000000",
        "<str:fmt>": "json",
        "<int:run_id>": "1",
        "<int:schedule_id>": "1",
        "<str:name>": "report.json",
    }
    path = route.pattern.replace("^", "").replace("\\Z", "").replace("$", "")
    for placeholder, value in values.items():
        path = path.replace(placeholder, value)
    assert "<" not in path, route.pattern
    return path


def _matrix_routes():
    """Routes people read (GET); ingest is the agent role's and tested on its own."""
    return [
        r
        for r in routes()
        if not _is_exempt(r)
        and _declared(r) not in (None, PUBLIC, Capability.INGEST_WRITE)
        and r.view_name != "ingest"
    ]


def test_each_role_reaches_exactly_the_routes_its_capabilities_allow(two_agents, clients):
    checked = 0
    for route in _matrix_routes():
        url = _concrete(route, two_agents)
        capability = _declared(route)
        for role in (Role.ADMINISTRATOR, Role.COMPLIANCE_OFFICER, Role.AUDITOR):
            status = clients[role.value].get(url).status_code
            allowed = capability in ROLE_CAPABILITIES[role]
            assert (status not in REFUSED) == allowed, (role, url, status)
            checked += 1
        for nobody in ("none", "expired_auditor"):
            assert clients[nobody].get(url).status_code in REFUSED | {302}, (nobody, url)
        anonymous = Client().get(url)
        assert anonymous.status_code in REFUSED or (
            anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
        ), url
    assert checked >= 3 * 15


def test_the_agent_role_only_ingests(two_agents, clients):
    token = two_agents["agent-a-token"]
    agent = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for route in _matrix_routes():
        assert agent.get(_concrete(route, two_agents)).status_code in REFUSED | {302}
    batch = json.dumps({"events": two_agents["agent-a"][:1]})
    for role in ("administrator", "compliance_officer", "auditor"):
        posted = clients[role].post("/api/v1/ingest", batch, content_type="application/json")
        assert posted.status_code == 401  # ingest needs an agent's token, not a person's
    refused = Client().post(
        "/api/v1/ingest",
        b'{"events": []}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert refused.status_code == 400  # the token is admitted; the empty batch is not


def test_a_scoped_auditor_sees_only_its_agents_and_period(two_agents, clients):
    scoped = clients["scoped_auditor"]
    listed = scoped.get("/api/v1/events/").json()["results"]
    assert {e["agent_id"] for e in listed} == {"agent-a"} and len(listed) == 3
    outside = two_agents["agent-b"][0]
    assert scoped.get(f"/api/v1/events/{outside['event_id']}/").status_code == 404
    inside = two_agents["agent-a"][0]
    assert scoped.get(f"/api/v1/events/{inside['event_id']}/").status_code == 200
    assert {s["id"] for s in scoped.get("/api/v1/streams/").json()["results"]} == {inside["stream"]}
    assert scoped.get(f"/api/v1/streams/{outside['stream']}/").status_code == 404
    assert scoped.get(f"/streams/{outside['stream']}/").status_code == 404
    checkpoint = two_agents["checkpoint"].pk
    proof = f"/api/v1/checkpoints/{checkpoint}/proofs/{outside['stream']}/"
    assert scoped.get(proof).status_code == 404
    assert scoped.get("/api/v1/evidence/?agent_id=agent-b").status_code == 403
    bundle = scoped.get("/api/v1/evidence/?agent_id=agent-a")
    assert bundle.status_code == 200
    # The scope's period narrows the bundle's query, and the bundle says so.
    header = json.loads(b"".join(bundle.streaming_content).split(b"\n", 1)[0])
    assert header["query"]["since"] is not None
    page = scoped.get("/events/").content.decode()
    assert inside["hash"][:12] in page and outside["hash"][:12] not in page
    # The unscoped auditor sees both agents.
    everyone = clients["auditor"].get("/api/v1/events/").json()["results"]
    assert {e["agent_id"] for e in everyone} == {"agent-a", "agent-b"}
