"""What this deployment is: its secret, whether it is production, where its files live and
which database it uses (none given: SQLite, the embedded demo). The other settings modules
build on these."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DEV_SECRET_KEY = "dev-insecure-obsportal-key-change-me"
# Django's own deploy check (security.W009) wants at least 50 characters, 5 distinct.
MIN_SECRET_KEY_LENGTH = 50


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
PRODUCTION = env_bool("OBSPORTAL_PRODUCTION", False)
if PRODUCTION and (SECRET_KEY == DEV_SECRET_KEY or DEBUG):
    raise ImproperlyConfigured(
        "OBSPORTAL_PRODUCTION is on: set DJANGO_SECRET_KEY to a real secret and DJANGO_DEBUG=0"
    )
if PRODUCTION and (len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        f"OBSPORTAL_PRODUCTION is on: DJANGO_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} "
        "random characters (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
VAR_DIR = Path(os.environ.get("OBSPORTAL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'obsportal.sqlite3'}", conn_max_age=60
    )
}
EMBEDDED = DATABASES["default"]["ENGINE"].endswith("sqlite3")
if EMBEDDED:
    # The demo serves requests in threads while its schedule verifies in another: readers go
    # on during a write (WAL), a writer waits for another (20 s) instead of failing, and a
    # transaction takes the write lock as it begins, so two never deadlock upgrading to it.
    # synchronous=NORMAL: a commit is not fsynced (WAL keeps the file consistent); a killed
    # process loses nothing, a power cut may lose the last commits. Embedded mode is the first
    # run; PostgreSQL is the store of record. Halves `migrate` and the demo on a slow disk.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
# django-prometheus' wrappers of the same backends: query counts and latencies on /metrics.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
