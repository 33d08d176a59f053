"""The portal's own trail: reads, searches and exports on the record, in a chain that verifies."""

from __future__ import annotations

import hashlib

import orjson
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
from obsportal.trail.services import (
    TrailUnavailable,
    flush_trail,
    record_trail,
    reset_process_trail,
)
from tests.accounts.urlwalk import routes
from tests.independent_chain import verify_chain
from tests.support.chains import superuser_sql
from tests.support.people import PASSWORD, person

TRAIL = "obsportal"


def trail_events() -> list[AuditEvent]:
    flush_trail()  # what this process recorded in the background is stored
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
def test_while_the_database_refuses_the_trail_reads_are_journaled_and_changes_refused(
    two_agents, django_user_model, settings, trail_journal
):
    from obsportal.accounts.services import assign_role

    settings.OBSPORTAL_TRAIL_BACKLOG = 3
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
        # A change must commit with its record: refused at once, and not made.
        with pytest.raises(TrailUnavailable):
            assign_role(target, "compliance_officer", by=admin)
        target.role_assignment.refresh_from_db()
        assert target.role_assignment.role == "auditor"
        # A read is on the record once its journal line is written: served while the
        # database copy retries, up to the backlog's bound, then refused.
        answers = [client.get("/api/v1/events/") for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 503, 503]
        refused = answers[-1]
        assert "could not be written to the portal's audit trail" in refused.json()["detail"]
        assert "agent-a" not in refused.content.decode()
        page = client.get("/events/")
        assert page.status_code == 503 and "Audit events" not in page.content.decode()
        assert len(trail_events()) == recorded  # nothing more reached the database
    finally:
        superuser_sql(("ALTER TABLE ingest_auditevent DROP CONSTRAINT trail_unwritable", ()))
    # The copy catches up on its own: the database holds the journal's whole chain (the
    # served reads among it), and requests are served again.
    assert flush_trail(10) == 0
    assert client.get("/api/v1/events/").status_code == 200
    reset_process_trail()
    [journal] = trail_journal.glob("*.jsonl")
    written = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    stored = trail_events()
    assert [e.hash for e in stored] == [e["hash"] for e in written]
    assert [e.action for e in stored][-4:] == ["events.search"] * 4
    assert verify_streams().status == "verified"


@pytest.mark.django_db(transaction=True)
def test_a_whole_database_in_read_only_mode_refuses_the_request(
    two_agents, django_user_model, settings
):
    from django.db import connection

    settings.OBSPORTAL_TRAIL_BACKLOG = 1
    client = Client()
    client.force_login(person(django_user_model, "ro-auditor", "auditor"))
    database = connection.settings_dict["NAME"]
    reset_process_trail()  # the next stream's copier connects after the change below
    superuser_sql((f'ALTER DATABASE "{database}" SET default_transaction_read_only = on', ()))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = on")
        statuses = [client.get("/api/v1/streams/").status_code for _ in range(3)]
        assert statuses[-1] == 503  # the one event the copy may hold back is all it takes
        assert statuses == [200, 503, 503]
    finally:
        superuser_sql(
            ("SET default_transaction_read_only = off", ()),  # this connection too is read-only
            (f'ALTER DATABASE "{database}" RESET default_transaction_read_only', ()),
        )
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")
    reset_process_trail()
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
def test_a_rolled_back_changes_event_stays_on_the_trail_in_one_chain():
    from django.db import transaction

    record_trail("page.view", actor="first")
    record_trail("page.view", actor="second")

    # A change recorded inside its transaction, which then rolls back: its journal line is
    # written, its row is not. The next event's copy fills the gap from the journal: the
    # record says more than happened, never less, and the chain is never forked.
    def change_that_fails() -> None:
        with transaction.atomic():
            record_trail("page.view", actor="rolled-back")
            raise RuntimeError("the change failed after its record")

    with pytest.raises(RuntimeError):
        change_that_fails()
    record_trail("page.view", actor="third")
    whole = trail_events()
    assert [(e.user_id, e.seq) for e in whole] == [
        ("first", 0), ("second", 1), ("rolled-back", 2), ("third", 3),
    ]  # fmt: skip
    assert len({e.stream_id for e in whole}) == 1
    assert verify_chain([_envelope(e) for e in whole]) == []
    assert verify_streams().status == "verified"


@pytest.mark.django_db(transaction=True)
def test_a_stream_whose_database_head_was_altered_is_left_for_a_new_one_never_forked():
    from django.db import transaction

    record_trail("page.view", actor="first")
    [stored] = trail_events()
    # A superuser moves the stream's head in psql: its copy no longer links to it.
    superuser_sql(
        ("UPDATE ingest_stream SET head_hash = %s WHERE id = %s", ("0" * 64, stored.stream_id))
    )
    with transaction.atomic():  # stored in the caller's transaction: checked at once
        record_trail("page.view", actor="second")
    record_trail("page.view", actor="third")
    whole = trail_events()
    assert [(e.user_id, e.seq) for e in whole] == [("first", 0), ("second", 0), ("third", 1)]
    left, new = whole[0].stream_id, whole[1].stream_id
    assert left != new
    assert verify_chain([_envelope(e) for e in whole if e.stream_id == new]) == []


def test_an_api_token_call_is_on_the_trail_with_its_user(api_client):
    assert api_client.get("/api/v1/streams/").status_code == 200
    [event] = trail_events()
    assert (event.action, event.user_id, event.details["api"]) == ("streams.view", "auditor", True)
