"""The streams, verification, checkpoint and proof endpoints."""

from __future__ import annotations

import base64

from rest_framework.test import APIClient

from agents_sdk.offline.checkpoint import head_leaf_hash, parse_verifier_key
from agents_sdk.offline.merkle import verify_inclusion
from obsportal.integrity.verification import verify_streams
from tests.support.chains import superuser_sql


def test_the_api_requires_a_token(two_chains):
    for url in ("/api/v1/streams/", "/api/v1/checkpoints/", "/api/v1/evidence/?agent_id=a"):
        assert APIClient().get(url).status_code in (401, 403)


def test_streams_list_detail_and_verification_history(two_chains, api_client):
    stream = two_chains["a"][0]["stream"]
    listed = api_client.get("/api/v1/streams/").json()["results"]
    assert {s["id"] for s in listed} == {stream, two_chains["b"][0]["stream"]}
    assert all(s["last_verification"] is None for s in listed)

    verify_streams()
    superuser_sql(
        ("UPDATE ingest_auditevent SET action = 'x' WHERE stream_id = %s AND seq = 1", (stream,))
    )
    second = verify_streams()
    detail = api_client.get(f"/api/v1/streams/{stream}/").json()
    assert detail["head_seq"] == 9
    assert detail["last_verification"]["run"] == second.pk
    assert detail["last_verification"]["status"] == "broken"
    history = api_client.get(f"/api/v1/streams/{stream}/verifications/").json()["results"]
    assert [h["status"] for h in history] == ["broken", "verified"]
    assert history[0]["first_break"]["seq"] == 1
    assert history[0]["first_break"]["event_id"] == two_chains["a"][1]["event_id"]
    assert api_client.get("/api/v1/streams/nope/").status_code == 404
    assert api_client.get("/api/v1/streams/nope/verifications/").status_code == 404


def test_checkpoints_public_key_and_inclusion_proof(two_chains, api_client):
    checkpoint = two_chains["checkpoint"]
    listed = api_client.get("/api/v1/checkpoints/").json()["results"]
    assert listed[0]["number"] == checkpoint.number and listed[0]["note"] == checkpoint.note
    note = api_client.get(f"/api/v1/checkpoints/{checkpoint.number}/note")
    assert note["Content-Type"].startswith("text/plain") and note.content.decode() == (
        checkpoint.note
    )
    key = api_client.get("/api/v1/checkpoints/public-key/").json()
    assert key["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    parse_verifier_key(key["verifier_key"])  # the verifier key parses
    pem = api_client.get("/api/v1/checkpoints/public-key.pem")
    assert pem.content.decode() == key["pem"]

    head = two_chains["a"][-1]
    url = f"/api/v1/checkpoints/{checkpoint.number}/proofs/{head['stream']}/"
    proof = api_client.get(url).json()
    assert verify_inclusion(
        proof["index"],
        proof["tree_size"],
        head_leaf_hash(head["stream"], head["seq"], head["hash"]),
        [base64.b64decode(p) for p in proof["proof"]],
        bytes.fromhex(proof["root_hash"]),
    )
    missing = api_client.get(f"/api/v1/checkpoints/{checkpoint.number}/proofs/unknown/")
    assert missing.status_code == 404


def test_an_evidence_query_needs_an_agent_and_valid_times(two_chains, api_client):
    response = api_client.get("/api/v1/evidence/")
    assert response.status_code == 400 and "agent_id" in response.json()
    response = api_client.get("/api/v1/evidence/", {"agent_id": "x", "since": "2026-13-01"})
    assert response.status_code == 400 and "since" in response.json()
