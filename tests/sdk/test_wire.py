"""What a batch looks like on the broker: the SDK's serializer, zstd-compressed."""

import base64
import json

import orjson
import pytest
import redis
from backports import zstd

from agents_sdk import CeleryTransport, JournalWriter
from agents_sdk.shipping.transports import INGEST_QUEUE, INGEST_TASK, Batch
from agents_sdk.shipping.wire import CONTENT_TYPE
from tests.support.services import OwnRedis


@pytest.fixture
def own_redis():
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


def test_a_batch_is_queued_compressed_in_the_sdk_serializer(own_redis, tmp_path):
    journal = JournalWriter(tmp_path / "a.jsonl", agent_id="agent-7")
    for n in range(50):
        journal.append("tool_execute", details={"tool": "search", "n": n})
    journal.close()
    lines = (tmp_path / "a.jsonl").read_bytes().splitlines(keepends=True)
    batch = Batch(lines=lines, end=None, first_seq=0, last_seq=49)

    transport = CeleryTransport(own_redis.url, token="secret-token")
    transport.submit(batch)  # nobody consumes: the message stays queued
    (raw,) = redis.Redis.from_url(own_redis.url).lrange(INGEST_QUEUE, 0, -1)
    transport.close()

    message = json.loads(raw)
    assert message["content-type"] == CONTENT_TYPE
    assert message["headers"]["compression"] == "application/zstd"
    assert message["headers"]["task"] == INGEST_TASK
    body = zstd.decompress(base64.b64decode(message["body"]))
    args, kwargs, _embed = orjson.loads(body)
    assert args == [{"token": "secret-token", "lines": b"".join(lines).decode()}]
    assert kwargs == {}
    # The compressed body is a fraction of the lines it carries.
    assert len(base64.b64decode(message["body"])) < len(b"".join(lines)) / 3
