"""The migration guide's examples run: this SDK's in order, in one namespace, as a reader
would paste them; the reference's against the reference itself when its venv is there."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "sdk" / "migration.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def blocks() -> tuple[list[str], list[str]]:
    found = BLOCK.findall(GUIDE.read_text())
    reference = [b for b in found if b.startswith("# reference")]
    ours = [b for b in found if not b.startswith("# reference")]
    return ours, reference


def test_the_guide_pairs_each_reference_call_with_an_example_here():
    ours, reference = blocks()
    assert len(reference) >= 8
    assert len(ours) >= len(reference)


def test_every_example_of_this_sdk_in_the_guide_runs(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AGENTS_SDK_", "OTEL_")) or name == "CELERY_BROKER_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "migration_guide"}
    ours, _ = blocks()
    for number, code in enumerate(ours, start=1):
        try:
            exec(compile(code, f"{GUIDE.name} example {number}", "exec"), namespace)  # noqa: S102
        except Exception as exc:
            pytest.fail(f"example {number} of {GUIDE.name} fails: {exc!r}\n{code}")
    assert (tmp_path / "audit.jsonl").exists()


REFERENCE_HARNESS = """
import asyncio, json, os, tempfile
from datetime import datetime, timedelta, timezone
os.chdir(tempfile.mkdtemp())
now = datetime.now(timezone.utc)
last_hour = now - timedelta(hours=1)
async def execute_tool():
    await asyncio.sleep(0)
def read_file():
    return b""
async def main():
{body}
asyncio.run(main())
print(json.dumps({{"ran": True}}))
"""


def test_the_reference_examples_in_the_guide_run_against_the_reference():
    from benchmarks import reference

    if not reference._MARKER.exists():
        pytest.skip("the reference venv is not installed (python -m benchmarks.reference)")
    _, examples = blocks()
    body = textwrap.indent("\n".join(examples), "    ")
    assert reference.run_reference(REFERENCE_HARNESS.format(body=body), timeout=120) == {
        "ran": True
    }
