"""Starting each part from its configuration (`agents_sdk.config`).

The real parts are imported only when on: an agent without metrics or tracing never
loads prometheus_client or the OpenTelemetry SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agents_sdk import environment as env
from agents_sdk.audit.journal import JournalWriter
from agents_sdk.config import AuditConfig, LoggingConfig, MetricsConfig, TracingConfig
from agents_sdk.logs import json_logger
from agents_sdk.shipping.celery_transport import CeleryTransport
from agents_sdk.shipping.http_transport import HttpTransport
from agents_sdk.shipping.shipper import Shipper
from agents_sdk.shipping.transport import Transport

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from agents_sdk.metrics import AgentMetrics
    from agents_sdk.tracing import AgentTracing


def start_metrics(agent_id: str, config: MetricsConfig) -> AgentMetrics:
    from agents_sdk.metrics import AgentMetrics

    return AgentMetrics(agent_id, registry=config.registry)


def start_tracing(
    agent_id: str, config: TracingConfig, on_drop: Callable[[int], None]
) -> AgentTracing:
    from agents_sdk.tracing import AgentTracing, exporter_factory_from_env, otlp_exporter

    factory: Callable[[], SpanExporter] | None
    if config.span_exporter is not None:
        exporter = config.span_exporter
        factory = lambda: exporter  # noqa: E731
    elif config.otlp_endpoint is not None or config.otlp_protocol is not None:
        factory = lambda: otlp_exporter(config.otlp_endpoint, config.otlp_protocol)  # noqa: E731
    else:
        factory = exporter_factory_from_env(None, None)
    return AgentTracing(
        config.service_name or agent_id,
        exporter_factory=factory,
        on_drop=on_drop,
        max_queue_size=config.queue_size,
        schedule_delay_millis=config.schedule_delay_millis,
        set_global=config.set_global,
    )


def start_logging(agent_id: str, config: LoggingConfig) -> logging.Logger:
    level = config.level or (env.text(env.LOG_LEVEL) or "INFO").upper()
    return json_logger(
        agent_id,
        name=config.logger_name,
        level=level,
        stream=config.stream,
        flush_interval=config.flush_interval,
    )


def open_journal(agent_id: str, config: AuditConfig) -> JournalWriter:
    assert config.journal is not None  # resolve_parts fills it in or refuses
    options = dict(config.journal_options)
    if config.rotate_bytes is not None:
        options["rotate_bytes"] = config.rotate_bytes
    if config.rotate_seconds is not None:
        options["rotate_seconds"] = config.rotate_seconds
    return JournalWriter(Path(config.journal), agent_id, fsync=config.fsync, **options)


def transport_for(config: AuditConfig) -> Transport | None:
    """The configured transport; else HTTP when an ingest URL is named, else Celery."""
    if config.transport is not None:
        return config.transport
    ingest_url = config.ingest_url or env.text(env.INGEST_URL)
    broker_url = config.broker_url or env.text(env.CELERY_BROKER_URL)
    token = config.ingest_token or env.text(env.INGEST_TOKEN)
    if ingest_url:
        if not token:
            raise ValueError(f"ingest_url needs ingest_token (or {env.INGEST_TOKEN})")
        return HttpTransport(ingest_url, token)
    if broker_url:
        return CeleryTransport(broker_url, token=token)
    return None


def start_shipper(
    journal: JournalWriter, config: AuditConfig, on_refusal: Callable[[str], None]
) -> Shipper | None:
    if not config.ship:
        return None
    transport = transport_for(config)
    if transport is None:
        return None
    shipper = Shipper(
        journal.path,
        transport,
        batch_size=config.batch_size,
        journal=journal,
        on_refusal=on_refusal,
        **config.shipper_options,
    )
    journal.add_listener(shipper.wakeup)
    shipper.start()
    return shipper
