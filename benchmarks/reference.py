"""The reference implementation we compare against: `kailash-kaizen`, in its own venv.

`ensure_reference()` creates `benchmarks/.ref-venv` (gitignored) and installs the
pinned reference package there, once; `run_reference(code)` runs a Python snippet
in that venv and returns what it printed as JSON. Keeping the reference out of the
project venv means its dependency tree can never change what the SDK is measured with.

Usable from any benchmark:

    from benchmarks.reference import run_reference
    figures = run_reference(SNIPPET)   # SNIPPET prints one JSON object on its last line
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

REFERENCE_PACKAGE = "kailash-kaizen"
REFERENCE_VERSION = "2.46.1"
VENV_DIR = Path(__file__).resolve().parent / ".ref-venv"
# The `observability` extra brings what its observability module imports
# (prometheus-client, the OpenTelemetry SDK and OTLP exporter).
REFERENCE_REQUIREMENT = f"{REFERENCE_PACKAGE}[observability]=={REFERENCE_VERSION}"
_MARKER = VENV_DIR / f".installed-{REFERENCE_PACKAGE}-{REFERENCE_VERSION}-observability"


def reference_python() -> Path:
    return VENV_DIR / "bin" / "python"


def ensure_reference(quiet: bool = True) -> Path:
    """Create the reference venv and install the reference package (idempotent)."""
    if _MARKER.exists():
        return reference_python()
    if not reference_python().exists():
        print(f"creating {VENV_DIR} for {REFERENCE_PACKAGE}=={REFERENCE_VERSION}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV_DIR)
    command = [
        str(reference_python()),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        REFERENCE_REQUIREMENT,
    ]
    if quiet:
        command.append("--quiet")
    print(f"installing {REFERENCE_PACKAGE}=={REFERENCE_VERSION} (once)", file=sys.stderr)
    subprocess.run(command, check=True)
    _MARKER.touch()
    return reference_python()


def run_reference(code: str, *args: str, timeout: float = 1800) -> dict:
    """Run `code` in the reference venv; return the JSON object on its last stdout line."""
    python = ensure_reference()
    env = dict(os.environ)
    # Never let the project's checkout shadow the reference's modules.
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(python), "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=VENV_DIR,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"reference run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


if __name__ == "__main__":
    print(ensure_reference(quiet=False))
