"""What a batch looks like on the broker: the SDK's serializer, which zstd-compresses."""

import base64
import json

import orjson
import redis
from backports import zstd

from agents_sdk import CeleryTransport, JournalWriter
from agents_sdk.shipping.transports import INGEST_QUEUE, INGEST_TASK, Batch
from agents_sdk.shipping.wire import CONTENT_TYPE


def journal_batch(path) -> tuple[Batch, list[bytes]]:
    journal = JournalWriter(path, agent_id="agent-7")
    for n in range(50):
        journal.append("tool_execute", details={"tool": "search", "n": n})
    journal.close()
    lines = path.read_bytes().splitlines(keepends=True)
    return Batch(lines=lines, end=None, first_seq=0, last_seq=49), lines


def queued_message(broker_url: str, batch: Batch, **options) -> dict:
    transport = CeleryTransport(broker_url, token="secret-token", **options)
    transport.submit(batch)  # nobody consumes: the message stays queued
    (raw,) = redis.Redis.from_url(broker_url).lpop(INGEST_QUEUE, 1)
    transport.close()
    return json.loads(raw)


def test_a_batch_is_queued_compressed_by_the_sdk_serializer(own_redis, tmp_path):
    batch, lines = journal_batch(tmp_path / "a.jsonl")
    message = queued_message(own_redis.url, batch)
    assert message["content-type"] == CONTENT_TYPE
    assert message["content-encoding"] == "binary"
    # Not kombu's compression: the worker's main process would decompress and pipe it all.
    assert "compression" not in message["headers"]
    assert message["headers"]["task"] == INGEST_TASK
    body = zstd.decompress(base64.b64decode(message["body"]))
    args, kwargs, _embed = orjson.loads(body)
    assert args == [{"token": "secret-token", "lines": b"".join(lines).decode()}]
    assert kwargs == {}
    # The compressed body is a fraction of the lines it carries.
    assert len(base64.b64decode(message["body"])) < len(b"".join(lines)) / 3


def test_plain_json_serves_a_portal_that_predates_the_sdk_serializer(own_redis, tmp_path):
    batch, lines = journal_batch(tmp_path / "a.jsonl")
    message = queued_message(own_redis.url, batch, plain_json=True)
    assert message["content-type"] == "application/json"
    assert "compression" not in message["headers"]
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert args == [{"token": "secret-token", "lines": b"".join(lines).decode()}]
