"""Bundles carry each stream's agent-signed head and its key: verified offline, a stream
the operator made up, extended or truncated is refused with what and where."""

from __future__ import annotations

import base64
import subprocess
import sys

import orjson
import pytest

from agents_sdk.audit.chain import compute_hash, hashed_body
from agents_sdk.audit.head_signing import HeadSigner, load_key
from obsportal.integrity.checkpoints import sign_checkpoint
from tests.integrity.test_agent_heads import SET_HEAD, insert_stream, made_up_chain
from tests.integrity.test_tampering import _insert_event
from tests.sdk.offline import test_evidence_bundle as bundles
from tests.sdk.offline.test_evidence_bundle import fetch_bundle, last_line, verify_offline
from tests.support.chains import superuser_sql

offline_site = bundles.offline_site  # the fixture: a site with agents_sdk and no Django


@pytest.fixture
def keys(signed_chains, tmp_path):
    from obsportal.integrity.signing import load_signing_key

    agent = load_key(tmp_path / "a.jsonl")
    return load_signing_key().verifier_key, base64.b64encode(agent.public_key).decode(), agent


def test_a_signed_bundle_verifies_with_the_pinned_agent_key(
    signed_chains, api_client, tmp_path, offline_site, keys
):
    portal, agent_key, agent = keys
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path), "--key", portal, "--agent-key", agent_key)
    assert done.returncode == 0, done.stdout + done.stderr
    stream = signed_chains["a"][0]["stream"]
    assert f"stream {stream}: signed by its agent up to seq 9, key {agent.fingerprint}" in (
        done.stdout
    )
    assert last_line(done).endswith(
        f", and signed by the agent itself with its pinned key {agent.fingerprint}."
    )


def test_the_agent_key_command_prints_what_verify_bundle_takes(signed_chains, tmp_path, keys):
    done = subprocess.run(
        [sys.executable, "-m", "agents_sdk", "agent-key", str(tmp_path / "a.jsonl")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [keys[1], f"fingerprint {keys[2].fingerprint}"]


def test_a_made_up_stream_is_refused_offline(
    signed_chains, api_client, tmp_path, offline_site, keys
):
    portal, agent_key, _ = keys
    superuser_sql(*insert_stream(made_up_chain(signed_chains["a"][0], "agent-7.made-up", 3)))
    sign_checkpoint()
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path), "--key", portal, "--agent-key", agent_key)
    assert done.returncode == 1, done.stdout
    assert (
        "stream agent-7.made-up: no agent-signed head, and one is required: no agent signed "
        "this stream" in done.stdout
    )
    # Without the agent's key pinned, the verdict still says who vouches for what.
    loose = verify_offline(offline_site, str(path), "--key", portal)
    assert "1 stream(s) carry no agent-signed head" in last_line(loose)


def test_a_forged_tail_is_refused_offline(signed_chains, api_client, tmp_path, offline_site, keys):
    portal, agent_key, _ = keys
    last = signed_chains["a"][-1]
    forged = {k: v for k, v in last.items() if k != "pii"}
    forged.update(
        seq=10,
        event_id="01900000-0000-7000-8000-000000000400",
        prev_hash=last["hash"],
        action="permission_grant",
    )
    forged["hash"] = compute_hash(hashed_body(forged), forged["prev_hash"])
    superuser_sql(_insert_event(forged), (SET_HEAD, (10, forged["hash"], last["stream"])))
    sign_checkpoint()
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path), "--key", portal, "--agent-key", agent_key)
    assert done.returncode == 1, done.stdout
    assert (
        f"stream {last['stream']}: events seq 10..10 follow the head its agent signed (seq 9"
        in done.stdout
    )


def test_a_truncated_tail_is_refused_offline(
    signed_chains, api_client, tmp_path, offline_site, keys
):
    portal, _, _ = keys
    events = signed_chains["b"]
    stream = events[0]["stream"]
    superuser_sql(
        ("DELETE FROM ingest_auditevent WHERE stream_id = %s AND seq >= 7", (stream,)),
        (SET_HEAD, (6, events[6]["hash"], stream)),
        ("DELETE FROM integrity_checkpointhead WHERE stream_id = %s", (stream,)),
    )
    sign_checkpoint()
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path), "--key", portal)
    assert done.returncode == 1, done.stdout
    assert "seq 7..9 are missing (the stream was truncated)" in done.stdout


def test_a_substituted_agent_key_is_refused(
    signed_chains, api_client, tmp_path, offline_site, keys
):
    portal, agent_key, _ = keys
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    forger = HeadSigner.from_seed(b"\x05" * 32)
    lines = path.read_bytes().splitlines()
    for index, line in enumerate(lines):
        item = orjson.loads(line)
        if item.get("type") == "stream":
            head = item["agent_head"]
            item["agent_head"] = forger.sign(
                "agent-7", head["stream"], head["seq"], head["hash"]
            ).as_wire()
            lines[index] = orjson.dumps(item)
    path.write_bytes(b"\n".join(lines) + b"\n")
    done = verify_offline(offline_site, str(path), "--key", portal, "--agent-key", agent_key)
    assert done.returncode == 1, done.stdout
    assert "not a pinned agent key" in done.stdout and "substituted" in done.stdout
