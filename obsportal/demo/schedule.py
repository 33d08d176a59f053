"""Celery beat's integrity jobs for the embedded portal, which has no broker and no beat.

`make demo` serves the portal with `runserver` in one process: this thread signs a checkpoint and
verifies every stream on an interval there, so a stream shipped while the demo runs is verified
within one interval instead of staying "not yet verified".
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection

from obsportal.integrity.checkpoints import sign_checkpoint
from obsportal.integrity.verification import verify_streams

log = logging.getLogger("obsportal.demo")


class IntegritySchedule:
    """Sign a checkpoint, then verify all streams, every `interval` seconds until stopped."""

    def __init__(self, interval: float):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-integrity", daemon=True)
        self.ticks = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def tick(self) -> None:
        close_old_connections()
        try:
            sign_checkpoint()
            verify_streams(trigger="schedule")
            self.ticks += 1
        finally:
            connection.close()  # this thread's own connection; SQLite holds no lock between ticks

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a failed tick must not end the schedule
                log.exception("scheduled checkpoint or verification failed")
