"""Settings for obsportal: one module, every deploy-specific value from the environment.

With no DATABASE_URL and no CELERY_BROKER_URL the portal runs embedded: SQLite
and Celery tasks executed in process (the first-run demo). PostgreSQL and Redis
are what production and the test suite use.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
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

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "csp",
    "django_filters",
    "django_celery_beat",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "obsportal.accounts",
    "obsportal.ingest",
    "obsportal.portal",
    "obsportal.integrity",
    "obsportal.trail",
    "obsportal.events",
    "obsportal.demo",
    "obsportal.retention",
    "obsportal.compliance",
    "obsportal.compliance.reports",
    "django_prometheus",
    "obsportal.telemetry",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's, the API browser's) from any server: runserver without
    # DEBUG serves none, gunicorn never does.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "obsportal.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: every authenticated request is on the trail, or refused.
    "obsportal.trail.middleware.TrailMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last but the metrics: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "obsportal.urls"
WSGI_APPLICATION = "obsportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "obsportal.portal.context.external_links",
                "obsportal.portal.navigation.navigation",
            ]
        },
    }
]

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
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"
    )
# django-prometheus' wrappers of the same backends: query counts and latencies on /metrics.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes checks every login (page, admin) first: after AXES_FAILURE_LIMIT wrong
# passwords for one username from one address, that pair is locked out for the cool-off
# time, even with the right password. Its records are in the admin.
AUTHENTICATION_BACKENDS = [
    "obsportal.accounts.backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("OBSPORTAL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("OBSPORTAL_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False  # no "AXES: BEGIN ..." line in front of every manage.py command's output
# Single sign-on (OIDC through mozilla-django-oidc, obsportal.accounts.oidc): on when a
# client id is set. The provider's endpoints are given one by one (no discovery at start);
# the role comes from a claim (OBSPORTAL_OIDC_ROLE_CLAIM) whose values are mapped to roles
# by OBSPORTAL_OIDC_ROLE_MAP ("group=role,group=role"). Local accounts keep working.
OIDC_RP_CLIENT_ID = os.environ.get("OBSPORTAL_OIDC_CLIENT_ID", "")
OBSPORTAL_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = os.environ.get("OBSPORTAL_OIDC_CLIENT_SECRET", "")
OBSPORTAL_OIDC_ISSUER = os.environ.get("OBSPORTAL_OIDC_ISSUER", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OBSPORTAL_OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OBSPORTAL_OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OBSPORTAL_OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OBSPORTAL_OIDC_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OBSPORTAL_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = "openid email profile"
OIDC_TIMEOUT = 10
OBSPORTAL_OIDC_ROLE_CLAIM = os.environ.get("OBSPORTAL_OIDC_ROLE_CLAIM", "groups")
OBSPORTAL_OIDC_ROLE_MAP = dict(
    pair.strip().split("=", 1)
    for pair in os.environ.get(
        "OBSPORTAL_OIDC_ROLE_MAP",
        "portal-admins=administrator,portal-officers=compliance_officer,portal-auditors=auditor",
    ).split(",")
    if "=" in pair
)
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
if OBSPORTAL_OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("obsportal.accounts.oidc.RoleClaimBackend")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Times with their zone and seconds, in the pages and in the admin (portal/formats/en).
FORMAT_MODULE_PATH = ["obsportal.portal.formats"]
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves the apps' static files straight from their directories (indexed at
# start), so gunicorn needs no collectstatic step and no other web server.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)  # collectstatic's target, optional; WhiteNoise wants it

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Authorization: Token <key>`; knox keeps only a SHA-512 digest, with an expiry.
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: a view is served only for the capability it declares (accounts.roles).
    "DEFAULT_PERMISSION_CLASSES": ["obsportal.accounts.permissions.HasCapability"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=int(os.environ.get("OBSPORTAL_API_TOKEN_DAYS", "90"))),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agent audit portal API",
    "DESCRIPTION": "Audit events recorded by AI agents, their streams and integrity.",
    "VERSION": "1",
    # Swagger UI from the app itself (drf-spectacular-sidecar): no CDN, works air-gapped.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every error answer and the ingest credential documented (obsportal/api_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "obsportal.api_schema.document_errors",
    ],
    # Retention's models each have a `status` of their own; a stream's is served by two
    # serializers (list and detail).
    "ENUM_NAME_OVERRIDES": {
        "StreamStatusEnum": "obsportal.ingest.models.Stream.Status",
        "RetentionPolicyStatusEnum": "obsportal.retention.models.RetentionPolicy.Status",
        "PolicyChangeStatusEnum": "obsportal.retention.models.PolicyChange.Status",
        "RetentionPlanStatusEnum": "obsportal.retention.models.RetentionPlan.Status",
        "RetentionRunStatusEnum": "obsportal.retention.models.RetentionRun.Status",
        "SubjectRequestKindEnum": "obsportal.compliance.models.SubjectRequest.Kind",
        "RetentionFrameworkEnum": "obsportal.retention.models.Framework",
        "SubjectRequestFrameworkEnum": "obsportal.compliance.models.SubjectRequest.Framework",
        "ReportFrameworkEnum": "obsportal.compliance.reports.registry.FRAMEWORKS",
    },
}

# Content-Security-Policy: everything from the portal itself; the one inline <style>
# of a page carries the request's nonce. Swagger UI draws its icons as data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Behind TLS (production): secure cookies, HSTS, HTTP redirected to HTTPS except the
# probes and the scrape, which Prometheus and the orchestrator make over plain HTTP
# inside the deployment. A TLS-terminating proxy must set X-Forwarded-Proto.
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("OBSPORTAL_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    if env_bool("OBSPORTAL_TLS_PROXY", False):  # only behind a proxy that sets the header
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("OBSPORTAL_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("OBSPORTAL_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("OBSPORTAL_HSTS_PRELOAD", True)

# The HTTP ingest edge (obsportal/ingest/api.py): the largest body, and each credential's
# allowance per window ("requests/seconds", "0" for none) counted in Redis; an event's
# ts may be at most OBSPORTAL_TS_MAX_SKEW_SECONDS ahead of this server's clock.
OBSPORTAL_INGEST_MAX_BYTES = int(os.environ.get("OBSPORTAL_INGEST_MAX_BYTES", 32 * 1024 * 1024))
OBSPORTAL_INGEST_RATE_LIMIT = os.environ.get("OBSPORTAL_INGEST_RATE_LIMIT", "600/60")
OBSPORTAL_INGEST_BYTES_PER_WINDOW = int(
    os.environ.get("OBSPORTAL_INGEST_BYTES_PER_WINDOW", 512 * 1024 * 1024)
)
OBSPORTAL_RATE_LIMIT_REDIS_URL = os.environ.get(
    "OBSPORTAL_RATE_LIMIT_REDIS_URL", os.environ.get("CELERY_BROKER_URL", "")
)
OBSPORTAL_TS_MAX_SKEW_SECONDS = int(os.environ.get("OBSPORTAL_TS_MAX_SKEW_SECONDS", "300"))
# Refuse batches without an agent-signed stream head even from a credential that has no
# key pinned yet (by default such a credential may still ship unsigned: journals that
# predate agent keys; its first signed batch pins its key and ends that).
OBSPORTAL_REQUIRE_SIGNED_HEADS = os.environ.get("OBSPORTAL_REQUIRE_SIGNED_HEADS", "") in (
    "1",
    "true",
    "yes",
)

# /metrics answers a scraper that sends `Authorization: Bearer <token>`, the token from
# $OBSPORTAL_METRICS_TOKEN or the file (`manage.py create_metrics_token` writes one).
# With neither, it answers loopback clients only.
OBSPORTAL_METRICS_TOKEN = os.environ.get("OBSPORTAL_METRICS_TOKEN", "")
OBSPORTAL_METRICS_TOKEN_FILE = Path(
    os.environ.get("OBSPORTAL_METRICS_TOKEN_FILE", VAR_DIR / "keys" / "metrics-token")
)

# Data subjects (obsportal.ingest.subjects): the HMAC key of subject keys, outside the
# database like the signing key; $OBSPORTAL_SUBJECT_KEY or this file (made on first use).
OBSPORTAL_SUBJECT_KEY_FILE = Path(
    os.environ.get("OBSPORTAL_SUBJECT_KEY_FILE", VAR_DIR / "keys" / "subject-key")
)
# Personal-data fields that identify a person (their last dotted part): docs/subjects.md.
OBSPORTAL_SUBJECT_FIELDS = frozenset(
    os.environ.get(
        "OBSPORTAL_SUBJECT_FIELDS",
        "user_id,email,subject,subject_email,subject_id,patient_id,username,phone",
    ).split(",")
)
# Named on the cover of every subject export (GDPR Art. 13(1)(a), 15: the controller).
OBSPORTAL_CONTROLLER_NAME = os.environ.get("OBSPORTAL_CONTROLLER_NAME", "the portal's operator")

# Celery. Without a broker, tasks run in process (embedded mode).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Shippers send batches with their own serializer (agents_sdk.shipping.wire).
CELERY_ACCEPT_CONTENT = ["json", "agents-sdk-json"]
CELERY_RESULT_EXPIRES = 3600
# No loss: a task is acknowledged after it ran, requeued if its worker dies,
# and a worker holds one unacknowledged message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers an unacknowledged message after the visibility timeout. It only
# matters when a whole worker dies (a killed pool child is requeued at once by its
# parent): an ingest batch takes well under a second and the shipper resends after
# its own result timeout (30 s), so 5 minutes costs nothing in loss, only a late
# no-op redelivery. It must exceed the longest task (the retention job is chunked),
# or a slow task is delivered twice (harmless for ingest, which is idempotent).
# Any live worker sweeps for such expired messages every 10 s (kombu's default sweep
# is 10 s x throttle 10 = 100 s), so a dead worker's batch is back within ~310 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300")),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# Keep reconnecting to a broker that went away instead of giving up after 100 tries.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ROUTES = {
    "obsportal.ingest.*": {"queue": "ingest"},
    # Bundles of millions of events take minutes: their own queue keeps beat's jobs moving.
    "obsportal.integrity.tasks.build_evidence_export": {"queue": "exports"},
    "obsportal.events.tasks.build_event_export": {"queue": "exports"},
    "obsportal.compliance.tasks.build_subject_export": {"queue": "exports"},
    "obsportal.compliance.reports.tasks.build_report": {"queue": "exports"},
}
# Celery's Django fixup closes the database connection around every task unless told
# to reuse it: a new PostgreSQL backend (fork, authentication, the catalog caches of
# the audit table and its indexes) per ingest batch. Reuse one for 50 tasks;
# obsportal.celery still drops a connection that broke (PostgreSQL restarted).
CELERY_DB_REUSE_MAX = 50
CELERY_TASK_DEFAULT_QUEUE = "default"

# Signed checkpoints (obsportal.integrity). The private key lives in a file or in
# $OBSPORTAL_SIGNING_KEY, never in the database; copies of every checkpoint are
# written outside PostgreSQL so a deleted chain end stays visible.
OBSPORTAL_SIGNING_KEY_FILE = Path(
    os.environ.get("OBSPORTAL_SIGNING_KEY_FILE", VAR_DIR / "keys" / "checkpoint.key")
)
OBSPORTAL_CHECKPOINT_DIR = Path(os.environ.get("OBSPORTAL_CHECKPOINT_DIR", VAR_DIR / "checkpoints"))
# The checkpoint origin line and the signing key's name (a schema-less URL, per C2SP).
OBSPORTAL_CHECKPOINT_ORIGIN = os.environ.get(
    "OBSPORTAL_CHECKPOINT_ORIGIN", "obsportal.localhost/audit-checkpoints"
)
# Evidence bundles built by the export task (obsportal.integrity.exports).
OBSPORTAL_EXPORT_DIR = Path(os.environ.get("OBSPORTAL_EXPORT_DIR", VAR_DIR / "exports"))
# Checkpoints are chained; verification reports a schedule gap over two intervals. The
# embedded portal (the demo) has no beat and signs only while `demo --serve` runs, so unless
# the interval is set it keeps no schedule to report gaps against (None).
OBSPORTAL_CHECKPOINT_INTERVAL: float | None = float(
    os.environ.get("OBSPORTAL_CHECKPOINT_INTERVAL", 600)
)
if EMBEDDED and "OBSPORTAL_CHECKPOINT_INTERVAL" not in os.environ:
    OBSPORTAL_CHECKPOINT_INTERVAL = None
# The number and note hash of the last checkpoint signed, kept outside PostgreSQL and
# apart from the copies (default: beside the key file), so that signing after both
# were removed still knows its predecessor.
OBSPORTAL_CHECKPOINT_WITNESS_FILE = os.environ.get("OBSPORTAL_CHECKPOINT_WITNESS_FILE") or None
CELERY_BEAT_SCHEDULE = {
    "sign-checkpoint": {
        "task": "obsportal.integrity.tasks.sign_checkpoint",
        "schedule": OBSPORTAL_CHECKPOINT_INTERVAL or 600.0,
    },
    "verify-streams": {
        "task": "obsportal.integrity.tasks.verify_streams",
        "schedule": float(os.environ.get("OBSPORTAL_VERIFY_INTERVAL", 3600)),
    },
}

# Beat reads its schedules from the database (django-celery-beat): an administrator edits
# them in the admin. The entries above are installed there when beat starts; the embedded
# portal (no broker, no beat) keeps the in-process demo schedule.
CELERY_BEAT_SCHEDULER = os.environ.get(
    "CELERY_BEAT_SCHEDULER", "django_celery_beat.schedulers:DatabaseScheduler"
)
CELERY_BEAT_SCHEDULE["retention-run-approved-plans"] = {
    "task": "obsportal.retention.tasks.run_approved_plans",
    "schedule": float(os.environ.get("OBSPORTAL_RETENTION_INTERVAL", 3600)),
}
CELERY_BEAT_SCHEDULE["retention-propose-plan"] = {
    "task": "obsportal.retention.tasks.propose_plan",
    "schedule": float(os.environ.get("OBSPORTAL_RETENTION_PROPOSE_INTERVAL", 86400)),
}
# Retention (obsportal.retention): statutory floors by framework, with their source
# (a policy of that framework below its floor is refused), and the rows a chunk prunes.
OBSPORTAL_RETENTION_FLOORS = {
    "hipaa": {
        "days": int(os.environ.get("OBSPORTAL_FLOOR_HIPAA_DAYS", 2192)),
        "source": "HIPAA, 45 CFR 164.316(b)(2)(i): required documentation kept 6 years from "
        "its creation or last effective date",
    },
    "eu_ai_act": {
        "days": int(os.environ.get("OBSPORTAL_FLOOR_EU_AI_ACT_DAYS", 183)),
        "source": "EU AI Act (Regulation (EU) 2024/1689) Art. 19(1) (providers) and Art. 26(6) "
        "(deployers): automatically generated logs kept at least six months",
    },
}
OBSPORTAL_RETENTION_CHUNK = int(os.environ.get("OBSPORTAL_RETENTION_CHUNK", 50_000))
# Compliance reports (obsportal.compliance.reports): each run's files, kept with their digests.
OBSPORTAL_REPORT_DIR = Path(os.environ.get("OBSPORTAL_REPORT_DIR", VAR_DIR / "reports"))
# Render each report's PDF/A (seconds to a minute under WeasyPrint); the tests of figures skip it.
OBSPORTAL_REPORT_PDF = os.environ.get("OBSPORTAL_REPORT_PDF", "1") != "0"
# Scheduled reports (monthly, quarterly) are queued by a daily look at what period has ended.
CELERY_BEAT_SCHEDULE["report-schedules"] = {
    "task": "obsportal.compliance.reports.tasks.run_due_schedules",
    "schedule": float(os.environ.get("OBSPORTAL_REPORT_SCHEDULE_INTERVAL", 3600)),
}

# The portal's own audit trail: an agent of its own, one hash-chained stream.
OBSPORTAL_TRAIL_AGENT_ID = os.environ.get("OBSPORTAL_TRAIL_AGENT_ID", "obsportal")
OBSPORTAL_TRAIL_STREAM = os.environ.get(
    "OBSPORTAL_TRAIL_STREAM", f"{OBSPORTAL_TRAIL_AGENT_ID}-trail"
)
# Each process's trail stream is also an SDK journal here (`agents-sdk verify` reads it).
OBSPORTAL_TRAIL_JOURNAL_DIR = Path(os.environ.get("OBSPORTAL_TRAIL_JOURNAL_DIR", VAR_DIR / "trail"))
# False: a trail row outside a transaction commits without waiting for the WAL flush
# (the journal line is written already); True: every row waits (~2 ms on this disk).
OBSPORTAL_TRAIL_SYNCHRONOUS_COMMIT = os.environ.get("OBSPORTAL_TRAIL_SYNCHRONOUS_COMMIT") == "1"

GRAFANA_URL = os.environ.get("GRAFANA_URL", "http://localhost:3000")
JAEGER_URL = os.environ.get("JAEGER_URL", "http://localhost:16686")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
