"""Test settings: the real PostgreSQL and Redis of this machine unless told otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/obsportal")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# Under pytest-xdist each worker has its own test database (pytest-django adds the suffix)
# and here its own Redis database, so one worker's Celery workers never take another's tasks.
if _xdist := os.environ.get("PYTEST_XDIST_WORKER"):
    _base, _, _db = os.environ["CELERY_BROKER_URL"].rpartition("/")
    os.environ["CELERY_BROKER_URL"] = f"{_base}/{int(_db) - 1 - int(_xdist.removeprefix('gw'))}"

from obsportal.settings import *  # noqa: E402,F403

# Tests run the ingest task through a real worker; the test process only sends.
CELERY_TASK_ALWAYS_EAGER = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
