"""agents_sdk: observability and a tamper-evident audit journal for AI agents."""

from agents_sdk.audit.chain import InvalidEvent
from agents_sdk.audit.journal import JournalCorrupt, JournalLocked, JournalWriter
from agents_sdk.hooks import LlmCall, Step, ToolCall, current_call, enable_observability
from agents_sdk.logs import JsonFormatter, log_context
from agents_sdk.metrics import AgentMetrics
from agents_sdk.observability import Observability
from agents_sdk.shipping.shipper import Shipper
from agents_sdk.shipping.transports import BatchRejected, CeleryTransport, TransportError

__all__ = [
    "AgentMetrics",
    "BatchRejected",
    "CeleryTransport",
    "InvalidEvent",
    "JournalCorrupt",
    "JournalLocked",
    "JournalWriter",
    "JsonFormatter",
    "LlmCall",
    "Observability",
    "Shipper",
    "Step",
    "ToolCall",
    "TransportError",
    "current_call",
    "enable_observability",
    "log_context",
]
