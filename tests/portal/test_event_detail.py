"""One event's page: its fields, chain neighbours, verification, checkpoint and inclusion
proof, its trace, and its personal data shown only to a role that may read it."""

from __future__ import annotations

import base64
import itertools
import json

import pytest

from agents_sdk.offline.checkpoint import head_leaf_hash
from agents_sdk.offline.merkle import verify_inclusion

pytestmark = pytest.mark.django_db


def test_every_field_and_the_chain_links(officer, searchable):
    events = searchable["agent-7"]
    middle = events[12]
    html = officer.get(f"/events/{middle['event_id']}/").content.decode()
    for field in ("event_id", "hash", "prev_hash", "agent_id", "action", "result", "resource"):
        assert str(middle[field]) in html, field
    assert f'id="prev-event" rel="prev" href="/events/{events[11]["event_id"]}/"' in html
    assert f'id="next-event" rel="next" href="/events/{events[13]["event_id"]}/"' in html
    assert "&quot;i&quot;: 12" in html  # details pretty-printed
    first = officer.get(f"/events/{events[0]['event_id']}/").content.decode()
    assert "the first event of its stream" in first
    last = officer.get(f"/events/{events[-1]['event_id']}/").content.decode()
    assert "the head of its stream" in last


def test_verification_and_checkpoint_with_a_proof_that_verifies(officer, searchable, signing_key):
    from obsportal.integrity.checkpoints import sign_checkpoint
    from obsportal.integrity.verification import verify_streams

    event = searchable["agent-7"][4]
    html = officer.get(f"/events/{event['event_id']}/").content.decode()
    assert "has not been verified yet" in html and "No signed checkpoint covers" in html
    assert officer.get(f"/events/{event['event_id']}/proof.json").status_code == 404

    run = verify_streams(trigger="test")
    checkpoint = sign_checkpoint()
    html = officer.get(f"/events/{event['event_id']}/").content.decode()
    assert "by run <a" in html and f">{run.pk}</a>" in html
    assert f"signed checkpoint <strong>{checkpoint.number}</strong>" in html

    response = officer.get(f"/events/{event['event_id']}/proof.json")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    proof = json.loads(response.content)
    inclusion = proof["head_inclusion"]
    leaf = head_leaf_hash(inclusion["stream"], inclusion["seq"], inclusion["hash"])
    assert verify_inclusion(
        inclusion["index"],
        inclusion["tree_size"],
        leaf,
        [base64.b64decode(p) for p in inclusion["proof"]],
        bytes.fromhex(checkpoint.root_hash),
    )
    links = proof["links"]
    assert links[0]["hash"] == event["hash"] and links[-1]["hash"] == inclusion["hash"]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(links))


def test_the_other_events_of_its_trace(officer, searchable):
    traced = [e for e in searchable["agent-7"] if e["trace_id"]]
    html = officer.get(f"/events/{traced[0]['event_id']}/").content.decode()
    for other in traced[1:]:
        assert f'href="/events/{other["event_id"]}/"' in html
    assert 'id="jaeger-link"' in html


def test_personal_data_only_for_a_role_that_may_read_it_and_on_the_trail(
    officer, auditor, searchable
):
    from obsportal.ingest.models import AuditEvent, PersonalDatum

    event = searchable["agent-7"][7]  # carries an email
    url = f"/events/{event['event_id']}/"
    assert "person7@example.com" in officer.get(url).content.decode()
    trail = AuditEvent.objects.filter(agent_id="obsportal", action="event.open").last()
    assert trail.details["personal_data_shown"] == ["email"]
    shown = auditor.get(url).content.decode()
    assert "person7@example.com" not in shown and "may not read personal data" in shown
    trail = AuditEvent.objects.filter(agent_id="obsportal", action="event.open").last()
    assert "personal_data_shown" not in trail.details

    PersonalDatum.objects.filter(event__event_id=event["event_id"]).delete()  # erased
    erased = officer.get(url).content.decode()
    assert "erased" in erased and "person7@example.com" not in erased


def test_an_event_outside_the_scope_is_not_found(client, django_user_model, searchable):
    from tests.factories import with_role

    client.force_login(
        with_role(
            django_user_model.objects.create_user("narrow"), "auditor", scope_agents=["agent-8"]
        )
    )
    assert client.get(f"/events/{searchable['agent-7'][0]['event_id']}/").status_code == 404
    assert client.get(f"/events/{searchable['agent-8'][0]['event_id']}/").status_code == 200
    assert client.get("/events/00000000-0000-7000-8000-000000000000/").status_code == 404
