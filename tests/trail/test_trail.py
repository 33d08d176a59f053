"""The portal's own trail: reads, searches and exports on the record, in a chain that verifies."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from obsportal.accounts.permissions import PUBLIC_NAMESPACES, PUBLIC_URLS
from obsportal.ingest.models import AuditEvent, PersonalDatum
from obsportal.integrity.verification import verify_streams
from obsportal.trail.actions import (
    ACTIONS,
    NAMESPACE_ACTIONS,
    URL_ACTIONS,
    URL_EXEMPTIONS,
    action_named,
)
from obsportal.trail.services import TrailUnavailable, record_trail
from tests.accounts.urlwalk import routes
from tests.independent_chain import verify_chain
from tests.support.chains import superuser_sql
from tests.support.people import PASSWORD, person

TRAIL = "obsportal"


def trail_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(agent_id=TRAIL).order_by("seq"))


def test_every_route_maps_to_a_registered_action_or_an_exemption():
    unmapped = []
    for route in routes():
        top = route.namespace.split(":", 1)[0]
        action = URL_ACTIONS.get(route.view_name) or NAMESPACE_ACTIONS.get(top)
        if action is None and route.view_name not in URL_EXEMPTIONS:
            unmapped.append(route.pattern)
        elif action is not None:
            assert action in ACTIONS, route.pattern
    assert unmapped == []
    # Exemptions name real routes (a renamed route must not leave a stale exemption).
    names = {r.view_name for r in routes()}
    assert set(URL_EXEMPTIONS) <= names
    assert set(PUBLIC_URLS) <= names and set(PUBLIC_NAMESPACES) <= {
        r.namespace.split(":", 1)[0] for r in routes()
    }


def test_an_unregistered_action_is_refused(db):
    with pytest.raises(LookupError):
        record_trail("made.up")
    assert action_named("event.open").kind == "open"


def test_an_auditors_open_search_and_download_are_on_a_chain_that_verifies(
    two_agents, django_user_model
):
    auditor = Client()
    auditor.force_login(person(django_user_model, "eve-auditor", "auditor"))
    event = two_agents["agent-a"][0]
    assert auditor.get(f"/api/v1/events/{event['event_id']}/").status_code == 200
    found = auditor.get("/api/v1/events/?user_id=alice&action=tool_execute")
    assert found.status_code == 200 and len(found.json()["results"]) == 6
    bundle = auditor.get("/api/v1/evidence/?agent_id=agent-a")
    assert bundle.status_code == 200
    downloaded_bytes = b"".join(bundle.streaming_content)

    officer = Client()
    officer.force_login(person(django_user_model, "olga-officer", "compliance_officer"))
    listed = officer.get(f"/api/v1/events/?agent_id={TRAIL}&user_id=eve-auditor")
    trail = list(reversed(listed.json()["results"]))  # newest first -> in chain order
    assert [e["action"] for e in trail] == [
        "auth.login",
        "event.open",
        "events.search",
        "evidence.download",
    ]
    _login, opened, searched, downloaded = trail
    assert {e["user_id"] for e in trail} == {"eve-auditor"}
    assert opened["resource"] == f"event_id:{event['event_id']}"
    # The searched user id is personal data: a commitment in the body, the value in the sidecar.
    assert searched["details"]["filters"] == {
        "user_id": "(personal data, in the sidecar)",
        "action": "tool_execute",
    }
    assert "filters.user_id" in searched["pii_commitments"]
    assert "alice" not in str({k: v for k, v in searched.items() if k != "pii"})
    sidecar = PersonalDatum.objects.get(event__event_id=searched["event_id"])
    assert (sidecar.field, sidecar.value) == ("filters.user_id", "alice")
    assert downloaded["details"]["sha256"] == hashlib.sha256(downloaded_bytes).hexdigest()
    assert downloaded["details"]["bytes"] == len(downloaded_bytes)
    assert downloaded["details"]["events"] == 3
    assert downloaded["details"]["query"]["agent_id"] == "agent-a"

    # The officer's own search is on the trail too, after the auditor's.
    whole = trail_events()
    assert whole[-1].user_id == "olga-officer" and whole[-1].action == "events.search"
    assert verify_chain([_envelope(e) for e in whole]) == []
    # Checkpointed like any agent's stream: its head is in the next signed checkpoint.
    from obsportal.integrity.checkpoints import inclusion_proof_of, sign_checkpoint

    trail_head = trail_events()[-1]
    proof = inclusion_proof_of(sign_checkpoint(), trail_head.stream_id)
    assert (proof["seq"], proof["hash"]) == (trail_head.seq, trail_head.hash)
    run = verify_streams()
    mine = run.streams.get(stream_id=whole[0].stream_id)
    assert mine.status == "verified" and mine.events_checked == len(whole)


def _envelope(row: AuditEvent) -> dict:
    from obsportal.ingest.envelope import as_envelope

    return as_envelope(row)


def test_the_trail_is_not_mixed_into_searches_nor_outside_a_scope(two_agents, clients):
    listed = clients["auditor"].get("/api/v1/events/").json()["results"]
    assert {e["agent_id"] for e in listed} == {"agent-a", "agent-b"}
    # A scoped auditor's scope does not name the portal: its trail stays out of reach.
    scoped = clients["scoped_auditor"].get(f"/api/v1/events/?agent_id={TRAIL}").json()
    assert scoped["results"] == []
    assert trail_events(), "the signed-in clients' requests were recorded"


@pytest.mark.django_db(transaction=True)
def test_a_request_that_cannot_be_recorded_is_refused(two_agents, django_user_model):
    from obsportal.accounts.services import assign_role

    admin = person(django_user_model, "root-admin", "administrator")
    target = person(django_user_model, "tom", "auditor")
    client = Client()
    client.force_login(admin)
    assert client.get("/api/v1/events/").status_code == 200
    recorded = len(trail_events())
    # The trail's storage refuses its rows (every other table stays writable).
    superuser_sql(
        (
            "ALTER TABLE ingest_auditevent ADD CONSTRAINT trail_unwritable"
            " CHECK (agent_id <> 'obsportal') NOT VALID",
            (),
        )
    )
    try:
        refused = client.get("/api/v1/events/")
        assert refused.status_code == 503
        assert "could not be written to the portal's audit trail" in refused.json()["detail"]
        assert "agent-a" not in refused.content.decode()
        page = client.get("/events/")
        assert page.status_code == 503 and "Audit events" not in page.content.decode()
        with pytest.raises(TrailUnavailable):
            assign_role(target, "compliance_officer", by=admin)
        target.role_assignment.refresh_from_db()
        assert target.role_assignment.role == "auditor"  # the change was not made
    finally:
        superuser_sql(("ALTER TABLE ingest_auditevent DROP CONSTRAINT trail_unwritable", ()))
    assert len(trail_events()) == recorded
    assert client.get("/api/v1/events/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_whole_database_in_read_only_mode_refuses_the_request(two_agents, django_user_model):
    from django.db import connection

    client = Client()
    client.force_login(person(django_user_model, "ro-auditor", "auditor"))
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    try:
        assert client.get("/api/v1/streams/").status_code == 503
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")
    assert client.get("/api/v1/streams/").status_code == 200


def test_logins_failed_logins_and_logouts_are_recorded(db, django_user_model):
    person(django_user_model, "lena", "auditor")
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": "lena", "password": "wrong"}).status_code
        == 200
    )
    client.post("/accounts/login/", {"username": "lena", "password": PASSWORD})
    client.post("/accounts/logout/")
    actions = [(e.action, e.result, e.user_id) for e in trail_events()]
    assert actions == [
        ("auth.login_failed", "denied", None),
        ("auth.login", "success", "lena"),
        ("auth.logout", "success", "lena"),
    ]
    failed = trail_events()[0]
    assert PersonalDatum.objects.get(event=failed, field="username").value == "lena"


@pytest.mark.django_db(transaction=True)
def test_threads_of_one_process_share_its_stream_and_never_fork_it():
    import threading

    from django.db import connection

    record_trail("page.view", actor="first")

    def writer(name: str) -> None:
        for _ in range(10):
            record_trail("page.view", actor=name)
        connection.close()

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    whole = trail_events()
    assert len({e.stream_id for e in whole}) == 1
    assert [e.seq for e in whole] == list(range(41))
    assert verify_chain([_envelope(e) for e in whole]) == []


@pytest.mark.django_db(transaction=True)
def test_a_stream_whose_database_head_moved_is_left_for_a_new_one_never_forked():
    from django.db import transaction

    record_trail("page.view", actor="first")
    record_trail("page.view", actor="second")

    # A change recorded inside its transaction, which then rolls back: the journal holds
    # the event, the database does not (its head stays one behind the journal's).
    def change_that_fails() -> None:
        with transaction.atomic():
            record_trail("page.view", actor="rolled-back")
            raise RuntimeError("the change failed after its record")

    with pytest.raises(RuntimeError):
        change_that_fails()
    record_trail("page.view", actor="third")
    whole = list(AuditEvent.objects.filter(agent_id=TRAIL).order_by("id"))
    assert [(e.user_id, e.seq) for e in whole] == [("first", 0), ("second", 1), ("third", 0)]
    left, new = whole[0].stream_id, whole[2].stream_id
    assert left != new
    for stream in (left, new):
        assert verify_chain([_envelope(e) for e in whole if e.stream_id == stream]) == []
    run = verify_streams()
    assert {s.status for s in run.streams.all()} == {"verified"}


def test_an_api_token_call_is_on_the_trail_with_its_user(api_client):
    assert api_client.get("/api/v1/streams/").status_code == 200
    [event] = trail_events()
    assert (event.action, event.user_id, event.details["api"]) == ("streams.view", "auditor", True)
