"""Every environment variable the SDK reads, as one documented constant each.

Twelve-factor: a deployment turns parts on and points them somewhere without a
code change. An argument (or a field of a part's configuration object) always
wins over the environment, except `OTEL_SDK_DISABLED`, which turns tracing off
whatever else says. A flag is on for `1`, `true`, `yes` or `on` (any case).
"""

from __future__ import annotations

import os

# --- audit ---------------------------------------------------------------------------------
JOURNAL = "AGENTS_SDK_JOURNAL"
"""Path of the audit journal; set, it turns audit on."""
INGEST_URL = "AGENTS_SDK_INGEST_URL"
"""The portal's base URL: ship over HTTP (`POST /api/v1/ingest`); needs `INGEST_TOKEN`."""
INGEST_TOKEN = "AGENTS_SDK_INGEST_TOKEN"
"""The agent's ingest token, issued by the portal's administrator (HTTP and Celery)."""
CELERY_BROKER_URL = "CELERY_BROKER_URL"
"""Without an ingest URL: ship as the portal's Celery task through this broker."""
API_TOKEN = "AGENTS_SDK_API_TOKEN"
"""A portal user's API token, for `agents-sdk verify --against` / `crosscheck` (read-only)."""

# --- metrics -------------------------------------------------------------------------------
METRICS = "AGENTS_SDK_METRICS"
"""Flag: metrics on (prometheus_client, the agent's own registry)."""
METRICS_PORT = "AGENTS_SDK_METRICS_PORT"
"""Serve `/metrics` on this port (0 picks a free one); implies metrics on."""
PROMETHEUS_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's multiprocess mode: values live in files in this directory."""

# --- logging -------------------------------------------------------------------------------
LOGGING = "AGENTS_SDK_LOGGING"
"""Flag: JSON log lines on (stderr unless a stream is given)."""
LOG_LEVEL = "AGENTS_SDK_LOG_LEVEL"
"""The JSON logger's level name (default INFO)."""

# --- tracing (the OpenTelemetry SDK's own variables) ---------------------------------------
TRACING = "AGENTS_SDK_TRACING"
"""Flag: tracing on (also implied by an OTLP endpoint or an OTEL_TRACES_EXPORTER)."""
OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
"""`true`: tracing off, whatever an argument or another variable says."""
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
"""The trace resource's `service.name` (default: the agent id)."""
OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
"""More resource attributes, `key=value,key=value` (read by the OpenTelemetry SDK)."""
OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
"""`otlp` (default), `console`, or `none` (spans are made, not exported)."""
OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""The collector's address, for every signal."""
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
"""The collector's address for traces; wins over the one for every signal."""
OTEL_EXPORTER_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
"""`grpc` (default) or `http/protobuf`."""
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
"""The protocol for traces; wins over the one for every signal."""
OTEL_BSP_MAX_QUEUE_SIZE = "OTEL_BSP_MAX_QUEUE_SIZE"
"""Spans the export queue holds; past it spans are dropped (and counted). Read by the SDK."""
OTEL_BSP_SCHEDULE_DELAY = "OTEL_BSP_SCHEDULE_DELAY"
"""Milliseconds between span exports. Read by the OpenTelemetry SDK."""

ALL = (
    JOURNAL, INGEST_URL, INGEST_TOKEN, CELERY_BROKER_URL, API_TOKEN, METRICS, METRICS_PORT,
    PROMETHEUS_MULTIPROC_DIR, LOGGING, LOG_LEVEL, TRACING, OTEL_SDK_DISABLED, OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY,
)  # fmt: skip

_TRUE = frozenset(("1", "true", "yes", "on"))


def text(name: str) -> str | None:
    """The variable's value, or None when it is unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value


def flag(name: str) -> bool | None:
    """True or False when the variable is set, None when it is unset or blank."""
    value = text(name)
    return None if value is None else value.strip().lower() in _TRUE


def port(name: str) -> int | None:
    """A TCP port number from the variable (None when unset); anything else is refused."""
    value = text(name)
    if value is None:
        return None
    if not value.strip().isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError(f"{name}={value!r} is not a port number (0-65535)")
    return int(value)


def first(*names: str) -> str | None:
    """The value of the first of `names` that is set."""
    for name in names:
        value = text(name)
        if value is not None:
            return value
    return None


def tracing_wanted(tracing: bool | None) -> bool:
    """Whether tracing is on, given the argument (None: let the environment decide)."""
    if flag(OTEL_SDK_DISABLED):
        return False
    if tracing is not None:
        return tracing
    on = flag(TRACING)
    if on is not None:
        return on
    exporter = (text(OTEL_TRACES_EXPORTER) or "").strip().lower()
    endpoint = first(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    return bool(endpoint) or exporter not in ("", "none")
