"""Configuration objects for the four parts, and how a part is decided on or off.

    Observability(
        "support-agent",
        audit=AuditConfig("/var/lib/agent/audit.jsonl", ingest_url="https://portal.example",
                          ingest_token=token),
        metrics=MetricsConfig(port=9464),
        logging=True,
        tracing=TracingConfig(otlp_endpoint="http://collector:4317"),
    )

For each part: a configuration object turns it on with those settings; `True` turns it
on with the defaults; `False` turns it off; `None` (the default) lets the environment
decide (`agents_sdk.environment`). Audit also takes a journal path as shorthand.
The 0.1 keywords (`journal_path=`, `metrics_port=`, `log_stream=`, ...) still work in
0.2, with a DeprecationWarning, and go in 0.3; `LEGACY_KEYWORDS` maps each to its field.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any, Literal

from agents_sdk import environment as env
from agents_sdk.log_handler import DEFAULT_FLUSH_INTERVAL

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from prometheus_client import CollectorRegistry

    from agents_sdk.shipping.transport import Transport

FsyncMode = Literal["batch", "always", "never"]


@dataclass(frozen=True)
class AuditConfig:
    """The journal and its shipping.

    `journal`: the JSONL journal's path (default `$AGENTS_SDK_JOURNAL`). Shipping goes
    through `transport` if given, else over HTTP to `ingest_url` with `ingest_token`,
    else as a Celery task through `broker_url` (each defaulting to its variable);
    `ship=False` only records. `journal_options` and `shipper_options` pass further
    settings to the JournalWriter and the Shipper (`max_in_flight`, `max_backoff`, ...).
    """

    journal: str | os.PathLike[str] | None = None
    fsync: FsyncMode = "batch"
    transport: Transport | None = None
    ingest_url: str | None = None
    ingest_token: str | None = None
    broker_url: str | None = None
    ship: bool = True
    batch_size: int = 500
    rotate_bytes: int | None = None
    rotate_seconds: float | None = None
    journal_options: Mapping[str, Any] = field(default_factory=dict)
    shipper_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricsConfig:
    """prometheus_client metrics on the agent's own registry (or `registry`);
    `port` serves `/metrics` there (0 picks a free port; default `$AGENTS_SDK_METRICS_PORT`)."""

    port: int | None = None
    registry: CollectorRegistry | None = None


@dataclass(frozen=True)
class LoggingConfig:
    """JSON lines through `logging`: to `stream` (stderr), at `level` (`$AGENTS_SDK_LOG_LEVEL`,
    INFO), written within `flush_interval` seconds (WARNING and above at once)."""

    level: int | str | None = None
    stream: IO[str] | None = None
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    logger_name: str | None = None


@dataclass(frozen=True)
class TracingConfig:
    """OpenTelemetry spans through a bounded BatchSpanProcessor.

    The exporter is `span_exporter` if given, else OTLP to `otlp_endpoint` over
    `otlp_protocol`, else what the `OTEL_*` variables say. `queue_size` bounds the
    span queue (drops are counted); `set_global` makes the provider the process's;
    `shutdown_timeout` bounds how long `shutdown()` waits for spans to export.
    """

    service_name: str | None = None
    otlp_endpoint: str | None = None
    otlp_protocol: str | None = None
    span_exporter: SpanExporter | None = None
    queue_size: int | None = None
    schedule_delay_millis: float | None = None
    set_global: bool = False
    shutdown_timeout: float = 1.0  # the most shutdown() waits for spans (lifecycle.py)


# 0.1 keyword -> (part, field of its configuration object).
LEGACY_KEYWORDS: dict[str, tuple[str, str]] = {
    "journal_path": ("audit", "journal"),
    "fsync": ("audit", "fsync"),
    "transport": ("audit", "transport"),
    "broker_url": ("audit", "broker_url"),
    "ingest_url": ("audit", "ingest_url"),
    "ingest_token": ("audit", "ingest_token"),
    "ship": ("audit", "ship"),
    "ship_batch_size": ("audit", "batch_size"),
    "journal_options": ("audit", "journal_options"),
    "shipper_options": ("audit", "shipper_options"),
    "metrics_port": ("metrics", "port"),
    "metrics_registry": ("metrics", "registry"),
    "log_level": ("logging", "level"),
    "log_stream": ("logging", "stream"),
    "log_flush_interval": ("logging", "flush_interval"),
    "logger_name": ("logging", "logger_name"),
    "service_name": ("tracing", "service_name"),
    "otlp_endpoint": ("tracing", "otlp_endpoint"),
    "otlp_protocol": ("tracing", "otlp_protocol"),
    "span_exporter": ("tracing", "span_exporter"),
    "span_queue_size": ("tracing", "queue_size"),
    "span_schedule_delay_millis": ("tracing", "schedule_delay_millis"),
    "set_global_tracer_provider": ("tracing", "set_global"),
}
_CONFIG_TYPES: dict[str, type] = {
    "audit": AuditConfig,
    "metrics": MetricsConfig,
    "logging": LoggingConfig,
    "tracing": TracingConfig,
}


@dataclass(frozen=True)
class Parts:
    """What is on: each part's configuration, or None for a part that is off."""

    audit: AuditConfig | None
    metrics: MetricsConfig | None
    logging: LoggingConfig | None
    tracing: TracingConfig | None


def _legacy_fields(legacy: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    unknown = sorted(set(legacy) - set(LEGACY_KEYWORDS))
    if unknown:
        raise TypeError(f"Observability() got unexpected keyword arguments: {', '.join(unknown)}")
    fields: dict[str, dict[str, Any]] = {part: {} for part in _CONFIG_TYPES}
    for keyword, value in legacy.items():
        part, name = LEGACY_KEYWORDS[keyword]
        fields[part][name] = value
    if legacy:
        replacement = ", ".join(
            f"{keyword}= -> {_CONFIG_TYPES[part].__name__}({name}=)"
            for keyword, (part, name) in LEGACY_KEYWORDS.items()
            if keyword in legacy
        )
        warnings.warn(
            f"Observability keywords are deprecated and go in 0.3: {replacement}",
            DeprecationWarning,
            stacklevel=4,
        )
    return fields


def _decide(part: str, given: Any, fields: dict[str, Any], env_on: bool) -> Any:
    """The part's configuration (on) or None (off), from what was passed."""
    kind = _CONFIG_TYPES[part]
    if isinstance(given, kind):
        if fields:
            raise TypeError(f"pass {part}={kind.__name__}(...) or the old keywords, not both")
        return given
    if given is not None and not isinstance(given, bool):
        raise TypeError(f"{part}= takes a {kind.__name__}, True, False or None; got {given!r}")
    on = env_on if given is None else given
    return kind(**fields) if on else None


def resolve_parts(
    audit: AuditConfig | str | os.PathLike[str] | bool | None,
    metrics: MetricsConfig | bool | None,
    logging: LoggingConfig | bool | None,
    tracing: TracingConfig | bool | None,
    legacy: Mapping[str, Any],
) -> Parts:
    """Decide every part from the arguments, the 0.1 keywords and the environment."""
    fields = _legacy_fields(legacy)
    if isinstance(audit, (str, os.PathLike)):
        audit = AuditConfig(journal=audit, **fields.pop("audit"))
    audit_fields = fields.get("audit", {})
    audit_env = audit_fields.get("journal") is not None or env.text(env.JOURNAL) is not None
    audit_config = _decide("audit", audit, audit_fields, audit_env)
    if audit_config is not None and audit_config.journal is None:
        journal = env.text(env.JOURNAL)
        if journal is None:
            raise ValueError(f"audit is on but has no journal: pass AuditConfig(journal=...) "
                             f"or set {env.JOURNAL}")  # fmt: skip
        audit_config = replace(audit_config, journal=journal)
    metrics_fields = fields["metrics"]
    metrics_env = bool(
        env.flag(env.METRICS)
        or metrics_fields.get("port") is not None
        or env.text(env.METRICS_PORT)
    )
    metrics_config = _decide("metrics", metrics, metrics_fields, metrics_env)
    if metrics_config is not None and metrics_config.port is None:
        metrics_config = replace(metrics_config, port=env.port(env.METRICS_PORT))
    logging_config = _decide("logging", logging, fields["logging"], bool(env.flag(env.LOGGING)))
    tracing_on = env.tracing_wanted(None if tracing is None else tracing is not False)
    tracing_config = _decide("tracing", tracing if tracing_on else False, fields["tracing"], True)
    return Parts(audit_config, metrics_config, logging_config, tracing_config)
