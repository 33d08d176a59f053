"""The apps' own settings (OBSPORTAL_*): the ingest edge, metrics, data subjects, signed
checkpoints and exports, retention, reports and the portal's own trail."""

from __future__ import annotations

import os
from pathlib import Path

from obsportal.settings.deployment import EMBEDDED, VAR_DIR

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
# Month partitions of the audit table kept created ahead of today (PostgreSQL; beat job
# `ingest-partitions-ahead`, `manage.py audit_partitions`).
OBSPORTAL_AUDIT_PARTITIONS_AHEAD = int(os.environ.get("OBSPORTAL_AUDIT_PARTITIONS_AHEAD", 3))
# Compliance reports (obsportal.compliance.reports): each run's files, kept with their digests.
OBSPORTAL_REPORT_DIR = Path(os.environ.get("OBSPORTAL_REPORT_DIR", VAR_DIR / "reports"))
# Render each report's PDF/A (seconds to a minute under WeasyPrint); the tests of figures skip it.
OBSPORTAL_REPORT_PDF = os.environ.get("OBSPORTAL_REPORT_PDF", "1") != "0"
# Scheduled reports' email (delivery.py): SMTP from the environment; the embedded demo writes
# each message as a file under var/mail/ instead (no mail server to configure).
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS") == "1"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", 30))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "obsportal@localhost")
OBSPORTAL_PUBLIC_URL = os.environ.get("OBSPORTAL_PUBLIC_URL", "http://localhost:8000")
# Attach report.json and the PDF (under the size limit) to the email: off, since populations may
# hold personal data and mail leaves the portal's access control. CSVs are never attached.
OBSPORTAL_REPORT_EMAIL_ATTACH = os.environ.get("OBSPORTAL_REPORT_EMAIL_ATTACH") == "1"
OBSPORTAL_REPORT_EMAIL_MAX_PDF_BYTES = int(
    os.environ.get("OBSPORTAL_REPORT_EMAIL_MAX_PDF_BYTES", 5_000_000)
)
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
# How a read's trail event reaches the database (PostgreSQL, outside a transaction):
# "background" (a thread per process copies the journal's lines in batches; the request
# waits for its line only) or "inline" (the request stores its row before its line).
OBSPORTAL_TRAIL_DATABASE_COPY = os.environ.get("OBSPORTAL_TRAIL_DATABASE_COPY", "background")
if OBSPORTAL_TRAIL_DATABASE_COPY not in ("background", "inline"):
    raise ValueError("OBSPORTAL_TRAIL_DATABASE_COPY must be 'background' or 'inline'")
# At most this many events may wait for the database copy; the next request is refused.
OBSPORTAL_TRAIL_BACKLOG = int(os.environ.get("OBSPORTAL_TRAIL_BACKLOG", 10_000))
# How long a change, a reader of the trail or an exiting process waits for the copy.
OBSPORTAL_TRAIL_DRAIN_SECONDS = float(os.environ.get("OBSPORTAL_TRAIL_DRAIN_SECONDS", 5))
