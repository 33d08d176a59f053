"""Evidence bundles exported by the API and the portal, verified offline without Django."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cffi
import cryptography
import orjson
import pytest
import rfc8785

import agents_sdk

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


def verify_offline(site: Path, *args: str) -> subprocess.CompletedProcess:
    """`-I -S`: no environment, no site-packages — Django is not there to import."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(site), "verify-bundle", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=site,
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
    path = tmp_path / "bundle.json"
    path.write_bytes(response.content)
    return path


def test_a_bundle_verifies_offline_and_says_what_it_proves(
    two_chains, api_client, tmp_path, offline_site
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    done = verify_offline(offline_site, str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    checkpoint = two_chains["checkpoint"].pk
    assert f"checkpoint {checkpoint}: signature valid; 2 stream heads" in done.stdout
    stream = two_chains["a"][0]["stream"]
    assert f"stream {stream}: seq 0..9: 10 event hashes recomputed, 9 links checked" in done.stdout
    assert f"stream {stream}: chained to the head signed in checkpoint {checkpoint}" in done.stdout
    assert "VERIFIED: 20 of 20 selected events; 20 chained to a signed checkpoint head" in (
        done.stdout
    )


def test_a_time_range_bundle_carries_the_neighbours_up_to_the_signed_head(
    two_chains, api_client, tmp_path, offline_site
):
    a = two_chains["a"]
    path = fetch_bundle(api_client, tmp_path, since=a[4]["ts"], until=a[7]["ts"])
    bundle = json.loads(path.read_text())
    assert bundle["selected"] == [e["event_id"] for e in a[4:7]]
    [stream] = bundle["streams"]
    assert [e["seq"] for e in stream["events"]] == list(range(3, 10))
    done = verify_offline(offline_site, str(path), "--key", bundle["public_key"]["verifier_key"])
    assert done.returncode == 0, done.stdout
    assert "VERIFIED: 3 of 3 selected events; 3 chained" in done.stdout
    assert "given on the command line" in done.stdout


def test_a_tampered_bundle_fails_with_the_located_reason(
    two_chains, api_client, tmp_path, offline_site
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    bundle = json.loads(path.read_text())
    stream = bundle["streams"][0]
    victim = stream["events"][3]
    victim["details"] = {"i": 999}
    path.write_text(json.dumps(bundle))
    done = verify_offline(offline_site, str(path))
    assert done.returncode == 1
    assert (
        f"PROBLEM: stream {stream['stream']} seq 3 (event {victim['event_id']}): "
        "hash does not match the event's content"
    ) in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("FAILED:")


def test_a_bundle_cut_short_of_its_signed_head_fails(
    two_chains, api_client, tmp_path, offline_site
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    bundle = json.loads(path.read_text())
    bundle["streams"][0]["events"].pop()
    path.write_text(json.dumps(bundle))
    done = verify_offline(offline_site, str(path))
    assert done.returncode == 1
    assert "the chain ends at seq 8" in done.stdout and "signed head seq 9" in done.stdout


def test_a_forged_checkpoint_or_a_foreign_key_fails(two_chains, api_client, tmp_path, offline_site):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agents_sdk.offline.checkpoint import verifier_key

    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    bundle = json.loads(path.read_text())
    original = json.dumps(bundle)
    note = bundle["checkpoints"][0]["note"]
    bundle["checkpoints"][0]["note"] = note.replace("\n2\n", "\n3\n", 1)
    path.write_text(json.dumps(bundle))
    done = verify_offline(offline_site, str(path))
    assert done.returncode == 1 and "does not verify" in done.stdout

    path.write_text(original)
    name = bundle["public_key"]["verifier_key"].split("+")[0]
    other = verifier_key(name, Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    done = verify_offline(offline_site, str(path), "--key", other)
    assert done.returncode == 1 and "no signature by the key" in done.stdout


def test_an_unreadable_bundle_exits_2(offline_site, tmp_path):
    path = tmp_path / "not-a-bundle.json"
    path.write_text('{"format": "something else"}')
    done = verify_offline(offline_site, str(path))
    assert done.returncode == 2 and "not an evidence bundle" in done.stderr


def test_the_portal_exports_the_same_bundle(two_chains, client, django_user_model):
    django_user_model.objects.create_user("officer", password="pw-officer-123")
    client.login(username="officer", password="pw-officer-123")
    page = client.get("/streams/evidence/")
    assert page.status_code == 200 and b"Download bundle" in page.content
    response = client.get("/streams/evidence/", {"export": "1", "agent_id": "agent-7"})
    assert response.status_code == 200
    assert len(json.loads(response.content)["selected"]) == 20
    bad = client.get("/streams/evidence/", {"export": "1", "since": "yesterday"})
    assert bad.status_code == 400 and b"ISO 8601" in bad.content


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda b: b.update(streams="nope"),
        lambda b: b["streams"][0].update(events=[1, 2]),
        lambda b: b["checkpoints"][0]["proofs"][0].update(index="x"),
        lambda b: b["checkpoints"][0]["proofs"][0].update(proof=["***"]),
        lambda b: b["public_key"].update(verifier_key="junk"),
        lambda b: b.pop("selected"),
    ],
)
def test_a_malformed_bundle_is_refused_without_a_traceback(
    two_chains, api_client, tmp_path, offline_site, corrupt
):
    path = fetch_bundle(api_client, tmp_path, agent_id="agent-7")
    bundle = json.loads(path.read_text())
    corrupt(bundle)
    path.write_text(json.dumps(bundle))
    done = verify_offline(offline_site, str(path))
    assert done.returncode in (1, 2), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "VERIFIED" not in done.stdout


def test_without_cryptography_the_verifier_says_what_to_install(tmp_path):
    site = tmp_path / "no-crypto"
    site.mkdir()
    for module in (agents_sdk, orjson, rfc8785):
        (site / Path(module.__file__).parent.name).symlink_to(Path(module.__file__).parent)
    bundle = tmp_path / "b.json"
    bundle.write_text("{}")
    done = verify_offline(site, str(bundle))
    assert done.returncode == 2
    assert "pip install 'agents-sdk[offline]'" in done.stderr and "Traceback" not in done.stderr
