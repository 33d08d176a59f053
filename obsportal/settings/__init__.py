"""Settings for obsportal: every deploy-specific value from the environment.

With no DATABASE_URL and no CELERY_BROKER_URL the portal runs embedded: SQLite
and Celery tasks executed in process (the first-run demo). PostgreSQL and Redis
are what production and the test suite use.

DJANGO_SETTINGS_MODULE is this package; its parts: `deployment` (secret, production,
files, database), this module (Django, its apps, authentication, the HTTP edge), `portal`
(the apps' own OBSPORTAL_* settings) and `celery` (broker, queues, beat's schedule).
"""

from __future__ import annotations

import os
from datetime import timedelta

from csp.constants import NONCE, NONE, SELF

from obsportal.settings.deployment import *  # noqa: F403
from obsportal.settings.deployment import PRODUCTION, VAR_DIR, env_bool

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
        "IncidentKindEnum": "obsportal.integrity.incidents.INCIDENT_KINDS",
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
GRAFANA_URL = os.environ.get("GRAFANA_URL", "http://localhost:3000")
JAEGER_URL = os.environ.get("JAEGER_URL", "http://localhost:16686")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

from obsportal.settings.celery import *  # noqa: E402, F403
from obsportal.settings.portal import *  # noqa: E402, F403
