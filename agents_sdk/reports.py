"""What the SDK reports about itself: where spans went, what shutdown achieved, how
shipping stands. Plain data, importable whichever parts are on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents_sdk.shipping.shipper import Refusal


@dataclass(frozen=True)
class SpanCounts:
    """Where the spans went: `ended` = exported + dropped + failed + queued (not yet sent)."""

    ended: int
    exported: int
    dropped: int  # the queue was full
    failed: int  # the exporter reported a failure (collector down, refused)

    @property
    def queued(self) -> int:
        return self.ended - self.exported - self.dropped - self.failed

    @property
    def lost(self) -> int:
        """Spans that did not reach the collector (dropped or failed)."""
        return self.dropped + self.failed


@dataclass(frozen=True)
class ShutdownReport:
    """What `shutdown()` achieved, part by part (None: the part is off).

    True as a whole when nothing was left behind: every audit event durable and
    acknowledged by the portal, every span exported, every log line written.
    """

    seconds: float = 0.0
    audit_durable: bool | None = None  # every recorded event on disk
    audit_shipped: bool | None = None  # every event acknowledged (None: not shipping)
    audit_pending: int = 0  # events the portal has not acknowledged
    shipping_error: str | None = None  # the last failure or refusal, if shipping stopped on one
    spans_exported: bool | None = None  # every span ended reached the collector
    spans: SpanCounts | None = None  # ended, exported, dropped, failed
    logs_written: bool | None = None  # every line reached its stream
    metrics_stopped: bool | None = None  # the /metrics server (if any) stopped

    @property
    def parts(self) -> dict[str, bool | None]:
        return {
            "audit": None if self.audit_durable is None else bool(
                self.audit_durable and self.audit_shipped is not False
            ),
            "tracing": self.spans_exported,
            "logging": self.logs_written,
            "metrics": self.metrics_stopped,
        }  # fmt: skip

    def __bool__(self) -> bool:
        return all(ok is not False for ok in self.parts.values())


@dataclass(frozen=True)
class ShippingStatus:
    """`Observability.shipping_status()`: where the journal's shipping stands."""

    shipping: bool  # a shipper runs (audit on, with a transport)
    pending: int = 0  # events recorded but not acknowledged by the portal
    acknowledged_seq: int = -1  # seq of the last acknowledged event
    shipped_events: int = 0  # acknowledged since this process started
    last_error: str | None = None  # the last failure (cleared by the next success)
    last_error_at: float | None = None  # its time.time()
    last_refusal: Refusal | None = None  # the last batch refused: code, reason, seqs
    held: bool = False  # shipping waits after that refusal (resume_shipping() to retry)
    transport: str | None = None
    # time.time() of the next attempt after a failure (after the portal's Retry-After, if any)
    retry_at: float | None = None
    # Fingerprint of the agent key that signs each batch's head (`sha256:…`); None when
    # the journal has no key (it predates agent-signed heads) and ships unsigned.
    agent_key: str | None = None
