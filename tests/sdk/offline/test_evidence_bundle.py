"""Evidence bundles exported by the API and the portal, verified offline without Django:
pinned to the portal's key, complete per stream, every attack refused and located."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cffi
import cryptography
import orjson
import pytest
import rfc8785

import agents_sdk
from tests.support.bundles import forge, read_bundle, write_bundle_lines

BOOTSTRAP = """
import sys
sys.path.insert(0, sys.argv.pop(1))
try:
    import django  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    sys.exit("django is importable: not an offline check")
try:
    import obsportal  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    sys.exit("obsportal is importable: not an offline check")
from agents_sdk.offline.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


# All that `agents_sdk.offline` needs besides the standard library.
OFFLINE_PACKAGES = (agents_sdk, orjson, rfc8785, cryptography, cffi)


@pytest.fixture
def offline_site(tmp_path) -> Path:
    """A directory holding only agents_sdk and the few packages its offline verifier needs."""
    site = tmp_path / "offline-site"
    site.mkdir()
    for module in OFFLINE_PACKAGES:
        paths = getattr(module, "__path__", None)  # a package, maybe a namespace one
        source = Path(next(iter(paths)) if paths else module.__file__)
        (site / source.name).symlink_to(source)
    for backend in Path(cffi.__file__).parent.parent.glob("_cffi_backend*.so"):
        (site / backend.name).symlink_to(backend)
    return site


def verify_offline(site: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`-I -S`: no environment, no site-packages — Django is not there to import."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(site), "verify-bundle", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=site,
        env={"HOME": str(site), **(env or {})},
    )


def test_the_sandbox_cannot_import_django(offline_site):
    probe = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(offline_site)!r}); import django",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "No module named 'django'" in probe.stderr


def fetch_bundle(api_client, tmp_path, **query) -> Path:
    response = api_client.get("/api/v1/evidence/", query)
    assert response.status_code == 200, response.content
    assert "attachment" in response["Content-Disposition"]
    path = tmp_path / "bundle.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    return path


@pytest.fixture
def portal_key(two_chains):
    from obsportal.integrity.signing import load_signing_key

    return load_signing_key().verifier_key


def last_line(done) -> str:
    return done.stdout.strip().splitlines()[-1]


def called_verified(done) -> bool:
    return any(line.startswith("VERIFIED") for line in done.stdout.splitlines())


def test_a_bundle_verifies_offline_and_says_what_it_proves_in_one_sentence(
    two_chains, api_client, tmp_path, offline_site, portal_key
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path), "--key", portal_key)
    assert done.returncode == 0, done.stdout + done.stderr
    number = two_chains["checkpoint"].number
    assert f"checkpoint {number}: signature valid; 2 stream heads" in done.stdout
    stream = two_chains["a"][0]["stream"]
    assert (
        f"stream {stream}: seq 0..9: 10 event hashes recomputed, 9 links checked, 10 selected"
        in done.stdout
    )
    assert f"stream {stream}: chained to its head signed in checkpoint {number}" in done.stdout
    verdict = last_line(done)
    assert verdict.startswith(
        "VERIFIED: all 20 events of agent agent-7 of all time that the portal held, in 2 "
        "stream(s), are in this bundle, complete and unaltered, each stream chained to a head "
        "signed with the pinned portal key obsportal.localhost/audit-checkpoints (Ed25519, sha256 "
    )
    assert f"in checkpoint {number} (" in verdict
    # Shipped unsigned (journals that predate agent keys): said so, in the same sentence.
    assert verdict.endswith(
        "; 2 stream(s) carry no agent-signed head (journals that predate agent keys), so only "
        "the portal vouches for them."
    )


def test_without_a_pinned_key_a_bundle_is_never_called_verified(
    two_chains, api_client, tmp_path, offline_site, portal_key
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path))
    assert done.returncode == 3
    assert not called_verified(done)
    assert last_line(done).startswith("NOT VERIFIED: the portal's key is not pinned")
    pinned_by_env = verify_offline(
        offline_site, str(path), env={"AGENTS_SDK_PORTAL_KEY": portal_key}
    )
    assert pinned_by_env.returncode == 0, pinned_by_env.stdout
    trust = tmp_path / "portal-keys"
    trust.write_text(f"# our portal\n{portal_key}\n")
    pinned_by_file = verify_offline(offline_site, str(path), "--trust-file", str(trust))
    assert pinned_by_file.returncode == 0, pinned_by_file.stdout


def test_a_time_range_bundle_carries_the_neighbours_up_to_the_signed_head(
    two_chains, api_client, tmp_path, offline_site, portal_key
):
    a = two_chains["a"]
    path = fetch_bundle(
        api_client, tmp_path, agent_id="agent-7", since=a[4]["ts"], until=a[7]["ts"]
    )
    header, streams, _ = read_bundle(path)
    assert header["selected"] == 3
    [(stream, events)] = streams
    assert (stream["first_seq"], stream["last_seq"], stream["selected"]) == (3, 9, 3)
    assert [e["seq"] for e in events] == list(range(3, 10))
    done = verify_offline(offline_site, str(path), "--key", portal_key)
    assert done.returncode == 0, done.stdout
    assert f"all 3 events of agent agent-7 with {a[4]['ts']} <= ts < {a[7]['ts']}" in last_line(
        done
    )


def tamper(path: Path, change) -> None:
    header, streams, end = read_bundle(path)
    change(header, streams, end)
    write_bundle_lines(path, header, streams, end)


def edit_details(event, value=999):
    event["details"] = {"i": value}


@pytest.mark.parametrize(
    ("attack", "expected"),
    [
        pytest.param(
            lambda h, s, e: edit_details(s[0][1][2]),
            "PROBLEM: stream {a} seq 5 (event {a5}): hash does not match the event's content",
            id="a byte in a selected event",
        ),
        pytest.param(
            lambda h, s, e: edit_details(s[0][1][0]),
            "PROBLEM: stream {a} seq 3 (event {a3}): hash does not match the event's content",
            id="a byte in the chain event before the range",
        ),
        pytest.param(
            lambda h, s, e: edit_details(s[0][1][-1]),
            "PROBLEM: stream {a} seq 9 (event {a9}): hash does not match the event's content",
            id="a byte in the chain event up to the signed head",
        ),
        pytest.param(
            lambda h, s, e: h["checkpoints"][0].update(
                note=h["checkpoints"][0]["note"].replace("\n2\n", "\n3\n", 1)
            ),
            "PROBLEM: checkpoint {n}: the signature by obsportal.localhost/audit-checkpoints "
            "does not verify",
            id="a byte in the note",
        ),
        pytest.param(
            lambda h, s, e: s[0][1].pop(3),
            "PROBLEM: stream {a} seq 7 (event {a7}): seq 6 missing before it",
            id="an event dropped",
        ),
        pytest.param(
            lambda h, s, e: (s[0][0].update(selected=2), h.update(selected=2)),
            "PROBLEM: stream {a}: the bundle says 2 of its events are selected; the query "
            "selects 3",
            id="an event un-listed",
        ),
        pytest.param(
            lambda h, s, e: (
                s[0][1].__delitem__(slice(0, 2)),
                s[0][0].update(first_seq=5, selected=2),
                h.update(selected=2),
                e.update(events=5),
            ),
            "PROBLEM: stream {a}: the bundle starts at seq 5 (event {a5}), which the query "
            "selects: the event before it is not in the bundle, so the selection is not proven "
            "complete at its start",
            id="the range's start shortened",
        ),
        pytest.param(
            lambda h, s, e: (s[0][1].pop(), e.update(events=6)),
            "PROBLEM: stream {a}: the chain ends at seq 8",
            id="the events up to the signed head cut off",
        ),
    ],
)
def test_every_bundle_attack_is_refused_naming_what_and_where(
    two_chains, api_client, tmp_path, offline_site, portal_key, attack, expected
):
    a = two_chains["a"]
    path = fetch_bundle(
        api_client, tmp_path, agent_id="agent-7", since=a[4]["ts"], until=a[7]["ts"]
    )
    tamper(path, attack)
    done = verify_offline(offline_site, str(path), "--key", portal_key)
    assert done.returncode == 1, done.stdout + done.stderr
    ids = {f"a{i}": a[i]["event_id"] for i in range(10)}
    wanted = expected.format(a=a[0]["stream"], n=two_chains["checkpoint"].number, **ids)
    assert wanted in done.stdout, done.stdout
    assert last_line(done).startswith("FAILED:")


def test_a_substituted_key_and_a_re_signed_forgery_are_refused(
    two_chains, api_client, tmp_path, offline_site, portal_key
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    forge(path, seq=4)
    pinned = verify_offline(offline_site, str(path), "--key", portal_key)
    assert pinned.returncode == 1
    assert "which is not a pinned key" in pinned.stdout and "the key was substituted" in (
        pinned.stdout
    )
    assert "no signature by the key obsportal.localhost/audit-checkpoints" in pinned.stdout
    unpinned = verify_offline(offline_site, str(path))
    assert unpinned.returncode == 3 and not called_verified(unpinned)
    assert last_line(unpinned).startswith("NOT VERIFIED")


def test_an_empty_selection_an_unknown_agent_and_a_reversed_range_are_refused(
    two_chains, api_client, tmp_path, offline_site, portal_key
):
    a = two_chains["a"]
    cases = {
        "unknown": ({"agent_id": "nobody"}, 404, "there is no agent 'nobody'"),
        "empty": (
            {
                "agent_id": "agent-7",
                "since": "2001-01-01T00:00:00Z",
                "until": "2001-01-02T00:00:00Z",
            },
            404,
            "the query selects no event of agent 'agent-7' in that range",
        ),
        "reversed": (
            {"agent_id": "agent-7", "since": a[7]["ts"], "until": a[4]["ts"]},
            400,
            "until must be later than since",
        ),
        "no agent": ({"since": a[4]["ts"]}, 400, "give the agent_id"),
    }
    for query, status, message in cases.values():
        response = api_client.get("/api/v1/evidence/", query)
        assert response.status_code == status, (query, response.content)
        assert message in response.content.decode(), query
    # A bundle edited to state a query that selects nothing is refused offline too.
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    tamper(path, lambda h, s, e: (h["query"].update(agent_id="nobody"), h.update(selected=0)))
    done = verify_offline(offline_site, str(path), "--key", portal_key)
    assert done.returncode == 1
    assert "refused: the query selects no event, so the bundle proves nothing" in done.stdout


def test_one_edited_head_in_a_checkpoint_never_fails_another_stream(
    two_chains, api_client, tmp_path, offline_site, portal_key, settings
):
    import shutil

    from tests.support.chains import superuser_sql

    b = two_chains["b"]
    superuser_sql(
        (
            "UPDATE integrity_checkpointhead SET hash = %s WHERE stream_id = %s",
            ("e" * 64, b[0]["stream"]),
        )
    )
    shutil.rmtree(settings.OBSPORTAL_CHECKPOINT_DIR)  # no copy to fall back on either
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    _, streams, _ = read_bundle(path)
    heads = {s["stream"]: s["head"]["checkpoint"] for s, _ in streams}
    first = two_chains["checkpoint"].number
    # The damaged checkpoint is passed over; a fresh one closes both streams.
    assert heads == {two_chains["a"][0]["stream"]: first + 1, b[0]["stream"]: first + 1}
    done = verify_offline(offline_site, str(path), "--key", portal_key)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda h, s, e: h.update(checkpoints="nope"),
        lambda h, s, e: s[0][1].__setitem__(0, {"v": 1}),
        lambda h, s, e: s[0][0]["head"].update(index="x"),
        lambda h, s, e: s[0][0]["head"].update(proof=["***"]),
        lambda h, s, e: h["portal_key"].update(verifier_key="junk"),
        lambda h, s, e: h.pop("query"),
    ],
)
def test_a_malformed_bundle_is_refused_without_a_traceback(
    two_chains, api_client, tmp_path, offline_site, portal_key, corrupt
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    tamper(path, corrupt)
    done = verify_offline(offline_site, str(path), "--key", portal_key)
    assert done.returncode in (1, 2), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert not called_verified(done)


def test_an_unreadable_bundle_exits_2(offline_site, tmp_path):
    path = tmp_path / "not-a-bundle.jsonl"
    path.write_text('{"format": "something else"}\n')
    done = verify_offline(offline_site, str(path))
    assert done.returncode == 2 and "not an evidence bundle" in done.stderr


def test_without_cryptography_the_verifier_says_what_to_install(tmp_path):
    site = tmp_path / "no-crypto"
    site.mkdir()
    for module in (agents_sdk, orjson, rfc8785):
        (site / Path(module.__file__).parent.name).symlink_to(Path(module.__file__).parent)
    bundle = tmp_path / "b.jsonl"
    bundle.write_text("{}")
    done = verify_offline(site, str(bundle))
    assert done.returncode == 2
    assert "pip install 'agents-sdk[offline]'" in done.stderr and "Traceback" not in done.stderr
