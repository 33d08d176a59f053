"""The embedded portal of `make demo` (SQLite in a var dir, tasks in process), for tests that
run `manage.py` as a newcomer would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "obsportal.sqlite3"


def embedded_env(var_dir: Path) -> dict[str, str]:
    """This process's environment without the services: `manage.py` then runs embedded."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
        and not k.startswith("AGENTS_SDK_")
    }
    env.update(DJANGO_SETTINGS_MODULE="obsportal.settings", OBSPORTAL_VAR_DIR=str(var_dir))
    # The demo builds four reports; their PDFs (tens of seconds) are tested in tests/compliance.
    env.setdefault("OBSPORTAL_REPORT_PDF", "0")
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """`manage.py ARGS` in the embedded portal; its stdout, or a failure showing both streams."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def migrate(var_dir: Path) -> None:
    manage(embedded_env(var_dir), "migrate", "--verbosity", "0")


def copy_migrated(template: Path, var_dir: Path) -> Path:
    """A fresh var dir holding a copy of a migrated database: `make demo`'s first step without
    its time (tests/demo/test_demo.py runs the real `migrate` on an empty dir)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    for name in (DATABASE, f"{DATABASE}-wal"):
        if (template / name).exists():
            shutil.copy2(template / name, var_dir / name)
    return var_dir
