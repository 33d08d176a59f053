"""agents_sdk: observability and a tamper-evident audit journal for AI agents.

    from agents_sdk import Observability

    obs = Observability(
        "support-agent",
        journal_path="/var/lib/agent/audit.jsonl",  # audit: the hash-chained journal
        metrics=True, metrics_port=9464,            # prometheus_client, own registry
        logging=True,                               # JSON lines on stderr, trace-correlated
        tracing=True,                               # OTel SDK + OTLP (OTEL_* variables)
    )
    with obs.step("answer"):                        # span + metrics + one audit event
        with obs.llm_call("openai", "gpt-4o") as call:
            call.report(input_tokens=812, output_tokens=95, cost_usd=0.0031)
        with obs.tool_call("search_tickets"):
            ...
        obs.permission_request("send_email", granted=False)
    obs.shutdown(timeout=5)

Every part is off unless an argument or the environment turns it on (see
`agents_sdk.observability`); `enable_observability` instruments an agent class.
"""

from agents_sdk.audit.chain import InvalidEvent
from agents_sdk.audit.journal import JournalCorrupt, JournalLocked, JournalWriter
from agents_sdk.config import AuditConfig, LoggingConfig, MetricsConfig, TracingConfig
from agents_sdk.hooks import LlmCall, Step, ToolCall, current_call
from agents_sdk.instrument import enable_observability
from agents_sdk.logs import JsonFormatter, log_context
from agents_sdk.observability import Observability
from agents_sdk.reports import ShippingStatus, ShutdownReport
from agents_sdk.shipping.celery_transport import CeleryTransport
from agents_sdk.shipping.http_transport import HttpTransport
from agents_sdk.shipping.memory import InMemoryTransport
from agents_sdk.shipping.shipper import Refusal, Shipper
from agents_sdk.shipping.transport import (
    BatchRejected,
    Pending,
    Transport,
    TransportError,
    Verdict,
)

__all__ = [
    "AuditConfig",
    "BatchRejected",
    "CeleryTransport",
    "HttpTransport",
    "InMemoryTransport",
    "InvalidEvent",
    "JournalCorrupt",
    "JournalLocked",
    "JournalWriter",
    "JsonFormatter",
    "LlmCall",
    "LoggingConfig",
    "MetricsConfig",
    "Observability",
    "Pending",
    "Refusal",
    "Shipper",
    "ShippingStatus",
    "ShutdownReport",
    "Step",
    "ToolCall",
    "TracingConfig",
    "Transport",
    "TransportError",
    "Verdict",
    "current_call",
    "enable_observability",
    "log_context",
]
