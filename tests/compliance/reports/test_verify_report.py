"""`agents-sdk verify-report` accepts a fresh report offline and refuses one with a byte
changed, a section removed, or a re-signature by another key."""

from __future__ import annotations

import base64
import subprocess
import sys
import zipfile

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agents_sdk.audit.canonical import canonicalize
from agents_sdk.offline.checkpoint import verifier_key
from agents_sdk.offline.report import sign_document, unsigned_bytes


def verify(path, key: str) -> subprocess.CompletedProcess:
    # A separate process that imports no Django and opens no database.
    return subprocess.run(
        [sys.executable, "-m", "agents_sdk", "verify-report", str(path), "--key", key],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "."},
        timeout=60,
    )


@pytest.fixture
def report(built, signing_key):
    return built.folder / "report.json", signing_key.verifier_key


def test_a_fresh_report_verifies_with_its_files(report):
    path, key = report
    result = verify(path, key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
    files = len(orjson.loads(path.read_bytes())["files"])
    assert f"{files} listed, {files} checked, 0 not at hand" in result.stdout


def test_a_zip_of_the_report_verifies(report, tmp_path):
    path, key = report
    archive = tmp_path / "report.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in path.parent.iterdir():
            out.write(file, file.name)
    assert verify(archive, key).returncode == 0


def test_one_byte_changed_is_refused(report):
    path, key = report
    data = bytearray(path.read_bytes())
    at = data.index(b'"count":') + len(b'"count":')
    data[at] = ord("7") if data[at] != ord("7") else ord("8")
    path.write_bytes(bytes(data))
    result = verify(path, key)
    assert result.returncode == 1 and "REFUSED" in result.stdout
    assert "does not verify" in result.stdout


def test_whitespace_added_is_refused_too(report):
    path, key = report
    path.write_bytes(path.read_bytes().replace(b'{"', b'{ "', 1))
    result = verify(path, key)
    assert result.returncode == 1 and "not the canonical form" in result.stdout


def test_a_section_removed_is_refused(report):
    path, key = report
    document = orjson.loads(path.read_bytes())
    document["sections"] = document["sections"][1:]
    path.write_bytes(canonicalize(document))
    result = verify(path, key)
    assert result.returncode == 1
    assert "listed in the header is missing" in result.stdout


def test_a_resignature_by_another_key_is_refused(report):
    path, key = report
    document = orjson.loads(path.read_bytes())
    document["sections"] = document["sections"][1:]
    document["header"]["sections"] = document["header"]["sections"][1:]
    other = Ed25519PrivateKey.generate()
    public = other.public_key().public_bytes_raw()
    name = document["signature"]["key_name"]  # same name, another key
    del document["signature"]
    path.write_bytes(sign_document(document, name, other.sign, public))
    result = verify(path, key)
    assert result.returncode == 1 and "not a pinned portal key" in result.stdout
    # ... and it verifies only against the forger's own key, which nobody pinned.
    assert verify(path, verifier_key(name, public)).returncode == 0


def test_a_changed_attachment_is_refused(report):
    path, key = report
    first = orjson.loads(path.read_bytes())["files"][0]["name"]
    (path.parent / first).write_bytes(b"forged\n")
    result = verify(path, key)
    assert result.returncode == 1 and f"{first} does not match its SHA-256" in result.stdout


def test_signature_covers_everything_but_itself(report):
    path, _ = report
    document = orjson.loads(path.read_bytes())
    assert base64.b64decode(document["signature"]["value"])
    assert b'"signature"' not in unsigned_bytes(document)
