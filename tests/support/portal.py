"""The portal under gunicorn, as deployed (compose/gunicorn.conf.py), for tests of its HTTP edge."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def current_database_url() -> str:
    """The URL of the test database this process uses (pytest-django's copy)."""
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}"


class GunicornPortal:
    """gunicorn serving obsportal on a free port, its output in a log file."""

    def __init__(self, log_dir: Path, workers: int = 1, **env: str) -> None:
        from django.conf import settings

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / "gunicorn.log"
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("OTEL_", "PROMETHEUS_MULTIPROC", "DJANGO_ALLOW_ASYNC"))
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="obsportal.settings",
            DATABASE_URL=current_database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=str(workers),
            PYTHONUNBUFFERED="1",
            **env,
        )
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> str:
        command = [sys.executable, "-m", "gunicorn", "-c", "compose/gunicorn.conf.py"]
        with open(self.log, "w") as handle:
            self.proc = subprocess.Popen(
                [*command, "obsportal.wsgi"],
                cwd=ROOT,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return self.url
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
