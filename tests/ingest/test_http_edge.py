"""POST /api/v1/ingest against hostile callers: the credential first, the body bounded."""

from __future__ import annotations

import http.client
import json
import socket

import orjson
import pytest

from obsportal.ingest.models import RejectedBatch
from tests.factories import journal_events
from tests.support.portal import GunicornPortal

pytestmark = pytest.mark.django_db

SAMPLE_LIMIT = 4096


def post(client, body: bytes | str, token: str | None = None, content_type="application/json"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.generic("POST", "/api/v1/ingest", body, content_type=content_type, **headers)


def test_a_body_that_is_not_json_typed_is_refused(client, agent_token, tmp_path):
    _agent, token = agent_token
    body = orjson.dumps({"events": journal_events(tmp_path, count=1)})
    refused = post(client, body, token, content_type="text/plain")
    assert refused.status_code == 415
    assert "application/json" in refused.json()["reason"]
    assert (
        post(client, body, token, content_type="application/json; charset=utf-8").status_code == 200
    )


def test_a_bare_list_is_refused(client, agent_token, tmp_path):
    _agent, token = agent_token
    refused = post(client, orjson.dumps(journal_events(tmp_path, count=1)), token)
    assert refused.status_code == 400
    assert refused.json()["reason_code"] == "malformed"
    assert "object" in refused.json()["reason"]


def test_duplicate_keys_are_refused(client, agent_token, tmp_path):
    _agent, token = agent_token
    event = journal_events(tmp_path, count=1)[0]
    text = orjson.dumps({"events": [event]}).decode()
    doubled = text.replace('"result":"success"', '"result":"denied","result":"success"', 1)
    refused = post(client, doubled, token)
    assert refused.status_code == 400
    assert refused.json()["reason_code"] == "malformed_json"
    assert "'result' twice" in refused.json()["reason"]


def test_a_deeply_nested_body_is_refused_with_a_sentence(client, agent_token):
    _agent, token = agent_token
    deep = '{"events": [{"details": ' + "[" * 1000 + "]" * 1000 + "}]}"
    refused = post(client, deep, token)
    assert refused.status_code == 400
    assert "nested" in refused.json()["reason"]


def test_an_anonymous_body_is_refused_without_being_stored(client):
    for token in (None, "agt_not-a-token"):
        refused = post(client, '{"events": [' + '{"a": "\\u0000"},' * 100 + "{}]}", token)
        assert refused.status_code == 401
        assert refused.json()["reason_code"] == "bad_token"
    assert RejectedBatch.objects.count() == 0


def test_a_batch_with_a_nul_is_refused_and_its_dead_letter_kept(client, agent_token, tmp_path):
    _agent, token = agent_token
    event = journal_events(tmp_path, count=1)[0]
    event["action"] = "tool\x00execute"
    refused = post(client, orjson.dumps({"events": [event]}), token)
    assert refused.status_code == 400
    assert refused.json()["reason_code"] == "invalid_event"
    assert RejectedBatch.objects.get().reason_code == "invalid_event"


def test_a_dead_letter_never_keeps_a_token_and_stays_small(client, agent_token, tmp_path):
    _agent, token = agent_token
    assert post(client, json.dumps({"events": "x", "token": token}), token).status_code == 400
    big = journal_events(tmp_path, count=3)
    for event in big:
        event["details"] = {"blob": "x" * 60_000}
    assert post(client, orjson.dumps({"events": big, "token": token}), token).status_code == 400
    letters = list(RejectedBatch.objects.all())
    assert len(letters) == 2
    for letter in letters:
        stored = json.dumps(letter.sample)
        assert token not in stored and token not in letter.reason
        assert len(stored.encode()) <= SAMPLE_LIMIT


# -- under gunicorn: the body is read only after the credential, and chunked bodies work --


@pytest.fixture
def portal(tmp_path, transactional_db):
    server = GunicornPortal(tmp_path, OBSPORTAL_INGEST_RATE_LIMIT="0")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def raw_post_headers(port: int, content_length: int, authorization: str | None) -> bytes:
    """Send only the headers and 10 bytes of a large body; return what the server answers."""
    lines = [
        "POST /api/v1/ingest HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {content_length}",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"events":')
        sock.settimeout(5)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


@pytest.mark.parametrize("authorization", [None, "Bearer agt_not-a-token", "Basic eDp5"])
def test_a_request_without_a_valid_token_is_answered_before_its_body(portal, authorization):
    answer = raw_post_headers(portal.port, 32 * 1024 * 1024, authorization)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_a_chunked_batch_is_admitted(portal, agent_token, tmp_path):
    _agent, token = agent_token
    body = orjson.dumps({"events": journal_events(tmp_path, count=5)})
    connection = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
    connection.request(
        "POST",
        "/api/v1/ingest",
        body=iter(chunks),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    verdict = json.loads(response.read())
    assert response.status == 200, verdict
    assert verdict["admitted"] == 5


def test_a_chunked_body_over_the_limit_is_refused(portal, agent_token, settings):
    _agent, token = agent_token
    head = (
        "POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    block = b" " * (1024 * 1024)
    chunk = b"%x\r\n%b\r\n" % (len(block), block)
    with socket.create_connection(("127.0.0.1", portal.port), timeout=30) as sock:
        sock.sendall(head)
        try:  # the server stops reading at the limit: sending more may fail, answering not
            for _ in range(settings.OBSPORTAL_INGEST_MAX_BYTES // len(block) + 2):
                sock.sendall(chunk)
        except OSError:
            pass
        answer = b""
        while b"oversized" not in answer:  # the verdict may follow the headers
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"oversized" in answer
