"""Exact bytes end to end: RFC 8785's hard values shipped out of order over HTTP and through
a real Celery worker come back from the API (and in bundles) byte for byte as the journal
wrote them."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents_sdk import JournalWriter
from agents_sdk.shipping.transports import INGEST_QUEUE, INGEST_TASK
from obsportal.ingest.models import Stream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

HARD_NUMBERS = [1e21, 1e-7, 5e-324, -0.0, 2**53 - 1, -(2**53 - 1), 1e308, 0.1, 1.5e300, 123e-20]
HARD_TEXT = ["\u2028", "\u2029", "\U0001f600", "\ud7ff\ue000", "é", '"\\/\b\f\n\r\t', "\x7f"]
KEYS = st.text(
    alphabet=st.sampled_from(["a", "é", "\U0001f600", "\u2028", "\U00010000", "1"]),
    min_size=1,
    max_size=4,
)
LEAVES = st.one_of(
    st.sampled_from(HARD_NUMBERS),
    st.sampled_from(HARD_TEXT),
    st.booleans(),
    st.none(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)
DETAILS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=4)


def deep(levels: int):
    value: object = 1e21
    for _ in range(levels):
        value = {"d": [value]}
    return value


def journal_lines(directory: Path, agent: str, details: list[dict]) -> list[bytes]:
    path = directory / f"{uuid.uuid4()}.jsonl"
    with JournalWriter(path, agent) as journal:
        for item in details:
            journal.append("tool_execute", "success", details=item)
    return path.read_bytes().splitlines()


def ship_http(client, token: str, lines: list[bytes]) -> None:
    response = client.generic(
        "POST",
        "/api/v1/ingest",
        b'{"events":[' + b",".join(lines) + b"]}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content


def ship_celery(token: str, lines: list[bytes]) -> None:
    from obsportal.celery import app

    batch = {"token": token, "lines": b"\n".join(lines).decode()}
    verdict = app.send_task(INGEST_TASK, args=[batch], queue=INGEST_QUEUE).get(timeout=60)
    assert verdict["status"] == "accepted", verdict


def admitted(stream: str, head: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while Stream.objects.filter(pk=stream, head_seq=head).count() == 0:
        assert time.monotonic() < deadline, f"stream {stream} did not reach seq {head}"
        time.sleep(0.1)


def served_lines(api_client, stream: str) -> dict[int, bytes]:
    """Each event of the stream as the API serves it, cut out of the page's bytes."""
    page = api_client.get("/api/v1/events/", {"stream": stream, "page_size": 1000})
    assert page.status_code == 200
    found = {}
    for event in page.json()["results"]:
        detail = api_client.get(f"/api/v1/events/{event['event_id']}/")
        found[event["seq"]] = detail.content
        assert detail.content in page.content  # the list serves the same bytes
    return found


def bundled_lines(api_client, agent: str, stream: str) -> dict[int, bytes]:
    """The stream's event lines as an evidence bundle of the agent carries them."""
    response = api_client.get("/api/v1/evidence/", {"agent_id": agent})
    assert response.status_code == 200, response.content
    found = {}
    for line in b"".join(response.streaming_content).splitlines():
        item = orjson.loads(line)
        if "type" not in item and item["stream"] == stream:
            found[item["seq"]] = line
    return found


def test_1e21_out_of_order_through_the_worker_is_admitted(
    agent_token, tmp_path, api_client, signing_key
):
    agent, token = agent_token
    lines = journal_lines(tmp_path, agent, [{"big": 1e21}, {"big": 1e21, "n": 2}])
    ship_celery(token, lines[1:])
    ship_celery(token, lines[:1])
    stream = orjson.loads(lines[0])["stream"]
    admitted(stream, 1)
    assert served_lines(api_client, stream) == dict(enumerate(lines))
    assert bundled_lines(api_client, agent, stream) == dict(enumerate(lines))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    details=st.lists(DETAILS, min_size=2, max_size=4),
    order=st.randoms(use_true_random=False),
    path=st.sampled_from(["http", "celery"]),
)
def test_hard_values_shipped_out_of_order_are_served_and_bundled_byte_for_byte(
    agent_token, tmp_path, api_client, client, signing_key, details, order, path
):
    agent, token = agent_token
    details = [*details, {"deep": deep(14)}]  # 30 levels: near MAX_DEPTH (32)
    lines = journal_lines(tmp_path, agent, details)
    shuffled = list(enumerate(lines))
    order.shuffle(shuffled)
    for _, line in shuffled:  # one event a batch, in shuffled order
        if path == "http":
            ship_http(client, token, [line])
        else:
            ship_celery(token, [line])
    stream = orjson.loads(lines[0])["stream"]
    admitted(stream, len(lines) - 1)
    assert served_lines(api_client, stream) == dict(enumerate(lines))
    assert bundled_lines(api_client, agent, stream) == dict(enumerate(lines))
