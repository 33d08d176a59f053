"""Acknowledging incidents: on the trail, for officers only, hiding nothing, and a word
written behind the portal's back is shown as such."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from obsportal.ingest.models import AuditEvent
from obsportal.integrity.models import IncidentAcknowledgement
from obsportal.integrity.verification import verify_streams
from tests.support.chains import superuser_sql

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/incidents/acknowledgements/"
NOTE = "Replayed journal after a restore from backup; agent re-keyed. Ticket SEC-42."


def _incident(client, kind: str, **params) -> dict:
    [row] = client.get("/api/v1/incidents/", {"kind": kind, **params}).json()["results"]
    return row


def _acknowledge(client, kind: str, ref: str, note: str = NOTE):
    return client.post(
        URL, {"kind": kind, "ref": ref, "note": note}, content_type="application/json"
    )


def _trail_events():
    return AuditEvent.objects.filter(
        agent_id=settings.OBSPORTAL_TRAIL_AGENT_ID, action="incident.acknowledge"
    )


def test_an_officer_acknowledges_a_fork_on_the_trail_and_it_stays_listed(incidents_made, clients):
    officer = clients["compliance_officer"]
    fork = _incident(officer, "fork")
    assert fork["acknowledgement"] is None

    made = _acknowledge(officer, "fork", fork["ref"])

    assert made.status_code == 201, made.content
    assert made.json()["acknowledged_by"] == "compliance_officer"
    assert made.json()["note"] == NOTE and made.json()["on_trail"] is True
    # Still listed, with the word on it; "open" no longer lists it, "acknowledged" does.
    listed = _incident(officer, "fork")
    assert listed["acknowledgement"]["note"] == NOTE
    assert listed["acknowledgement"]["on_trail"] is True
    assert (
        officer.get("/api/v1/incidents/", {"kind": "fork", "state": "open"}).json()["results"] == []
    )
    everything = officer.get("/api/v1/incidents/", {"state": "acknowledged"}).json()["results"]
    assert [(i["kind"], i["ref"]) for i in everything] == [("fork", fork["ref"])]
    gap = _incident(officer, "gap", state="open")  # the gap is still open
    assert gap["acknowledgement"] is None
    # The trail holds who, what and why: an event of the portal's own hash-chained stream.
    [event] = _trail_events()
    assert event.user_id == "compliance_officer"
    assert event.details["fingerprint"] == fork["fingerprint"]
    assert event.details["note"] == NOTE and event.details["kind"] == "fork"
    assert event.resource == f"incidentacknowledgement:{IncidentAcknowledgement.objects.get().pk}"
    # An auditor reads the acknowledgements, and sees the same.
    [read] = clients["auditor"].get(URL).json()
    assert read["fingerprint"] == fork["fingerprint"] and read["on_trail"] is True


def test_acknowledging_is_refused_with_a_reason_and_changes_nothing(incidents_made, clients):
    officer = clients["compliance_officer"]
    fork, gap = _incident(officer, "fork"), _incident(officer, "gap")
    agent = Client(HTTP_AUTHORIZATION=f"Bearer {incidents_made['agent-a-token']}")
    # Who may not: anonymous, a stolen agent token, read-only roles.
    assert _acknowledge(Client(), "fork", fork["ref"]).status_code in (401, 403)
    assert _acknowledge(agent, "fork", fork["ref"]).status_code in (401, 403)
    for role in ("auditor", "scoped_auditor", "none", "expired_auditor"):
        assert _acknowledge(clients[role], "fork", fork["ref"]).status_code == 403, role
    # What is not an acknowledgement.
    for note in ("", "   \n  ", "x" * 2001):
        refused = _acknowledge(officer, "fork", fork["ref"], note)
        assert refused.status_code == 400 and "note" in refused.json(), note
    assert _acknowledge(officer, "rumour", fork["ref"]).status_code == 400
    for kind, ref in [
        ("fork", "999999"),
        ("fork", "²"),
        ("fork", "-1"),
        ("finding", "1"),  # no verification ran
        ("gap", incidents_made["agent-a"][0]["stream"]),  # a stream without a gap
        ("checkpoint", "1"),
    ]:
        missing = _acknowledge(officer, kind, ref)
        assert missing.status_code == 404, (kind, ref)
        assert ref in missing.json()["detail"]
    assert not IncidentAcknowledgement.objects.exists() and not _trail_events().exists()
    # One acknowledgement each: the second is a conflict, and nothing more is written.
    assert _acknowledge(clients["administrator"], "gap", gap["ref"]).status_code == 201
    again = _acknowledge(officer, "gap", gap["ref"], "another word")
    assert again.status_code == 409 and "acknowledged already" in again.json()["detail"]
    assert IncidentAcknowledgement.objects.count() == 1 and _trail_events().count() == 1


def test_a_finding_stays_acknowledged_across_runs_until_its_problem_changes(
    incidents_made, clients
):
    stream = incidents_made["agent-a"][0]["stream"]
    superuser_sql(("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 2", (stream,)))
    verify_streams()
    officer = clients["compliance_officer"]
    first = _incident(officer, "finding", stream=stream)
    assert _acknowledge(officer, "finding", first["ref"]).status_code == 201

    verify_streams()  # a new run finds the same problem: the same incident, acknowledged
    same = _incident(officer, "finding", stream=stream)
    assert same["ref"] != first["ref"] and same["fingerprint"] == first["fingerprint"]
    assert same["acknowledgement"]["note"] == NOTE

    # Another problem in the stream is a new incident: open again.
    superuser_sql(("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq = 0", (stream,)))
    verify_streams()
    changed = _incident(officer, "finding", stream=stream)
    assert changed["fingerprint"] != first["fingerprint"]
    assert changed["acknowledgement"] is None
    assert _incident(officer, "finding", stream=stream, state="open")["ref"] == changed["ref"]


def test_an_acknowledgement_written_behind_the_portals_back_is_shown_as_such(
    incidents_made, clients, django_user_model
):
    officer = clients["compliance_officer"]
    fork, gap = _incident(officer, "fork"), _incident(officer, "gap")
    assert _acknowledge(officer, "fork", fork["ref"]).status_code == 201
    someone = django_user_model.objects.get(username="administrator")
    # A superuser with psql: a made-up acknowledgement of the gap, and an edited note.
    superuser_sql(
        (
            "INSERT INTO integrity_incidentacknowledgement"
            " (kind, fingerprint, summary, note, acknowledged_by_id, acknowledged_at)"
            " VALUES ('gap', %s, 'x', 'nothing to see', %s, now())",
            (gap["fingerprint"], someone.pk),
        ),
    )
    forged = _incident(officer, "gap")
    assert forged["acknowledgement"]["on_trail"] is False
    page = officer.get("/incidents/", {"kind": "gap"}).content.decode()
    assert "not on the audit trail" in page
    superuser_sql(
        ("UPDATE integrity_incidentacknowledgement SET note = 'all fine' WHERE kind = 'fork'", ())
    )
    assert _incident(officer, "fork")["acknowledgement"]["on_trail"] is False
    # Deleting the word makes the incident open again; its trail event stays.
    superuser_sql(("DELETE FROM integrity_incidentacknowledgement WHERE kind = 'fork'", ()))
    assert _incident(officer, "fork", state="open")["acknowledgement"] is None
    assert _trail_events().get().details["note"] == NOTE


def test_the_pages_acknowledge_for_officers_and_show_it_to_everyone(incidents_made, clients):
    officer, auditor = clients["compliance_officer"], clients["auditor"]
    fork = _incident(officer, "fork")
    listing = officer.get("/incidents/").content.decode()
    assert "Acknowledge…" in listing
    assert "Acknowledge…" not in auditor.get("/incidents/").content.decode()
    form_url = "/incidents/acknowledge/"
    form = officer.get(form_url, {"kind": "fork", "ref": fork["ref"]})
    assert form.status_code == 200 and fork["summary"] in form.content.decode()
    assert auditor.get(form_url, {"kind": "fork", "ref": fork["ref"]}).status_code == 403
    assert auditor.post(
        form_url, {"kind": "fork", "ref": fork["ref"], "note": NOTE}
    ).status_code == (403)
    assert officer.get(form_url, {"kind": "fork", "ref": "424242"}).status_code == 404
    empty = officer.post(form_url, {"kind": "fork", "ref": fork["ref"], "note": " "})
    assert empty.status_code == 400 and "needs a note" in empty.content.decode()
    assert not IncidentAcknowledgement.objects.exists()

    done = officer.post(form_url, {"kind": "fork", "ref": fork["ref"], "note": NOTE})

    assert done.status_code == 302 and done["Location"].endswith("/incidents/?state=acknowledged")
    shown = auditor.get("/incidents/", {"state": "acknowledged"}).content.decode()
    assert "by compliance_officer" in shown and "Replayed journal" in shown
    again = officer.post(form_url, {"kind": "fork", "ref": fork["ref"], "note": "again"})
    assert again.status_code == 409 and "Acknowledged already" in again.content.decode()
    assert _trail_events().count() == 1


def test_a_long_fingerprint_fits_its_column_and_stays_distinct():
    from obsportal.integrity.incidents import FINGERPRINT_MAX, _bounded

    long_a, long_b = "s" * 700 + "a", "s" * 700 + "b"
    assert _bounded("short") == "short"
    assert len(_bounded(long_a)) == FINGERPRINT_MAX
    assert _bounded(long_a) != _bounded(long_b)
    field = IncidentAcknowledgement._meta.get_field("fingerprint")
    assert field.max_length == FINGERPRINT_MAX
