"""The Observability facade: one object an agent holds, turning parts on and owning shutdown.

Four parts, each on or off by argument or environment (`agents_sdk.config`,
`agents_sdk.environment`): metrics (prometheus_client), JSON logging, tracing
(OpenTelemetry) and audit (journal + shipper). A part that is off is a no-op object
with the same methods, so the hooks never ask.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from agents_sdk import environment as env
from agents_sdk._off import NoMetrics, NoTracing
from agents_sdk._otel import current_ids
from agents_sdk._otel import trace as otel_trace
from agents_sdk.acting import ActingFor, current_user
from agents_sdk.assembly import (
    open_journal,
    start_logging,
    start_metrics,
    start_shipper,
    start_tracing,
)
from agents_sdk.audit.journal import JournalWriter
from agents_sdk.config import (
    AuditConfig,
    LoggingConfig,
    MetricsConfig,
    Parts,
    TracingConfig,
    resolve_parts,
)
from agents_sdk.conveniences import Conveniences
from agents_sdk.hooks import NO_CALL, LlmCall, Step, ToolCall
from agents_sdk.lifecycle import shut_down
from agents_sdk.logs import silent_logger
from agents_sdk.reports import ShippingStatus, ShutdownReport
from agents_sdk.shipping.shipper import Shipper

if TYPE_CHECKING:
    from agents_sdk.metrics import AgentMetrics
    from agents_sdk.tracing import AgentTracing

_T = TypeVar("_T")


class Observability(Conveniences):
    """Metrics, JSON logs, traces and audit for one agent; any subset, by argument or env.

    Each part takes its configuration object (`AuditConfig`, `MetricsConfig`,
    `LoggingConfig`, `TracingConfig`), True (on, defaults), False (off) or None (the
    environment decides); `audit` also takes a journal path. The 0.1 keywords
    (`journal_path=`, `metrics_port=`, ...) still work until 0.3, with a DeprecationWarning.
    """

    def __init__(
        self,
        agent_id: str,
        audit: AuditConfig | str | os.PathLike[str] | bool | None = None,
        *,
        metrics: MetricsConfig | bool | None = None,
        logging: LoggingConfig | bool | None = None,
        tracing: TracingConfig | bool | None = None,
        agent_name: str | None = None,
        **deprecated: Any,
    ):
        if not agent_id or not isinstance(agent_id, str):
            raise ValueError("agent_id must be a non-empty string")
        self.agent_id = agent_id
        self.agent_name = agent_name or agent_id
        self._closed = False
        parts = resolve_parts(audit, metrics, logging, tracing, deprecated)
        self.parts: Parts = parts

        # Every part starts off, so a failure half-way through can shut down what started.
        self.metrics: AgentMetrics | NoMetrics = NoMetrics()
        self.tracing: AgentTracing | NoTracing = NoTracing()
        self._start_span: Callable[[str, dict[str, Any]], Any] | None = None
        self.logger = silent_logger(agent_id)
        self._audit: Callable[..., dict[str, Any] | None] = self._no_audit
        self.journal: JournalWriter | None = None
        self.shipper: Shipper | None = None
        self._refresh_on_record = False
        self._instrumented = False
        self.metrics_port: int | None = None
        try:
            # Metrics first: the other parts report into them.
            if parts.metrics is not None:
                self.metrics = start_metrics(agent_id, parts.metrics)
            if parts.tracing is not None:
                self.tracing = start_tracing(agent_id, parts.tracing, self.metrics.span_dropped)
                self._start_span = self.tracing.start_span
            if parts.logging is not None:
                self.logger = start_logging(agent_id, parts.logging)
            if parts.audit is not None:
                self.journal = open_journal(agent_id, parts.audit)
                self._audit = self._audit_to_journal
                self.shipper = start_shipper(self.journal, parts.audit, self.metrics.batch_refused)
                self.metrics.track_audit_progress(self._audit_progress)
                # Under multiprocess a scrape in another process cannot call us: keep files fresh.
                self._refresh_on_record = self.metrics.enabled and bool(
                    env.text(env.PROMETHEUS_MULTIPROC_DIR)
                )
            # With every part off a hook is one shared no-op object (decorators return fn).
            self._instrumented = bool(
                self.metrics.enabled
                or self.tracing.enabled
                or not self.logger.disabled
                or self.journal is not None
            )
            if parts.metrics is not None and parts.metrics.port is not None:
                self.metrics_port = self.metrics.serve(parts.metrics.port)
        except BaseException:
            self.shutdown(timeout=1.0)
            raise

    # --- hooks ------------------------------------------------------------------------------

    def step(self, name: str | None = None, **audit: Any) -> Step:
        """An agent step: context manager or decorator (see agents_sdk.hooks)."""
        if not self._instrumented:
            return NO_CALL  # type: ignore[return-value]
        return Step(self, name, **audit)

    def llm_call(self, provider: str, model: str, **options: Any) -> LlmCall:
        """An LLM call; inside, `call.report(input_tokens=, output_tokens=, cost_usd=)`."""
        if not self._instrumented:
            return NO_CALL  # type: ignore[return-value]
        return LlmCall(self, provider, model, **options)

    def tool_call(self, tool: str, **options: Any) -> ToolCall:
        """A tool call: its span, `agent_tool_*` metrics and one `tool_execute` audit event."""
        if not self._instrumented:
            return NO_CALL  # type: ignore[return-value]
        return ToolCall(self, tool, **options)

    def permission_request(
        self,
        permission: str,
        granted: bool,
        *,
        user_id: str | None = None,
        resource: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Record a permission decision: the decision metric and a `permission_request` event."""
        self.metrics.permission(granted)
        span = otel_trace.get_current_span() if otel_trace is not None else None
        if span is not None and span.is_recording():
            span.add_event(
                "permission_request",
                {"permission": permission, "decision": "granted" if granted else "denied"},
            )
        trace_id, span_id = current_ids()
        if user_id is None:
            user_id = current_user()
        return self._audit(
            "permission_request",
            "success" if granted else "denied",
            {"permission": permission, **(details or {})},
            user_id,
            resource,
            trace_id,
            span_id,
        )

    async def apermission_request(
        self, permission: str, granted: bool, **fields: Any
    ) -> dict[str, Any] | None:
        """The asyncio form of permission_request."""
        return await self._in_loop(self.permission_request, permission, granted, **fields)

    def acting_for(self, user_id: str | None) -> ActingFor:
        """`with obs.acting_for(user_id="alice"):` (or `async with`): the hooks' events and
        `record_audit` inside are on behalf of that user (this thread or task only)."""
        return ActingFor(user_id)

    # --- audit ------------------------------------------------------------------------------

    def _no_audit(self, *args: Any) -> None:
        return None

    def _audit_to_journal(
        self,
        action: str,
        result: str,
        details: dict[str, Any] | None,
        user_id: str | None,
        resource: str | None,
        trace_id: str | None,
        span_id: str | None,
        personal_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        event = self.journal.append(  # type: ignore[union-attr]
            action,
            result,
            details=details,
            user_id=user_id,
            resource=resource,
            trace_id=trace_id,
            span_id=span_id,
            personal_data=personal_data,
        )
        self.metrics.audit_event_recorded()
        if self._refresh_on_record:
            self.metrics.refresh_audit_progress()
        return event

    def record_audit(
        self,
        action: str,
        result: str = "success",
        *,
        details: dict[str, Any] | None = None,
        user_id: str | None = None,
        resource: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        personal_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one audit event to the journal; returns the event. Never touches the network.

        Without explicit ids the event carries the active span's trace_id and span_id; without
        `user_id`, the acting user (`acting_for`).
        """
        if self.journal is None:
            raise RuntimeError(f"audit is off: pass audit=AuditConfig(...) (or set {env.JOURNAL})")
        if trace_id is None and span_id is None:
            trace_id, span_id = current_ids()
        if user_id is None:
            user_id = current_user()
        return self._audit_to_journal(
            action, result, details, user_id, resource, trace_id, span_id, personal_data
        )

    async def arecord_audit(
        self, action: str, result: str = "success", **fields: Any
    ) -> dict[str, Any]:
        """The asyncio form of record_audit; the call does not block the loop on I/O."""
        return await self._in_loop(self.record_audit, action, result, **fields)

    async def _in_loop(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        # With fsync="always" a record waits for the disk: do that off the event loop.
        # Otherwise the append is a memory copy and runs inline, keeping the span context.
        if self.journal is not None and self.journal.fsync_mode == "always":
            return await asyncio.to_thread(fn, *args, **kwargs)
        await asyncio.sleep(0)
        return fn(*args, **kwargs)

    def pending_events(self) -> int:
        """Events recorded but not yet acknowledged by the portal."""
        if self.journal is None:
            return 0
        shipped = self.shipper.cursor.seq if self.shipper else -1
        return self.journal.last_seq - shipped

    def shipping_status(self) -> ShippingStatus:
        """How shipping stands: pending events, the last error, the last refusal and its reason."""
        shipper = self.shipper
        if shipper is None:
            return ShippingStatus(shipping=False, pending=self.pending_events())
        return ShippingStatus(
            shipping=True,
            pending=self.pending_events(),
            acknowledged_seq=shipper.cursor.seq,
            shipped_events=shipper.shipped_events,
            last_error=shipper.last_error,
            last_error_at=shipper.last_error_at,
            last_refusal=shipper.refusal,
            held=shipper.held,
            transport=type(shipper.transport).__name__,
            retry_at=shipper.retry_at,
            agent_key=shipper.signer.fingerprint if shipper.signer is not None else None,
        )

    def resume_shipping(self) -> None:
        """After a refusal, offer the held batch again now (its cause fixed on the portal)."""
        if self.shipper is not None:
            self.shipper.resume()

    def _audit_progress(self) -> tuple[int, int]:
        shipped = self.shipper.cursor.seq + 1 if self.shipper else 0
        return shipped, self.pending_events()

    # --- lifecycle --------------------------------------------------------------------------

    def shutdown(self, timeout: float = 5.0) -> ShutdownReport:
        """Flush every part, then close; returns what each part achieved.

        Returns as soon as audit is durable and shipped and the rest is flushed; audit
        gets up to `timeout` seconds, spans at most `TracingConfig.shutdown_timeout`
        (1 s by default: an absent collector is not waited for). Never hangs: a part
        still busy at its bound is abandoned on a daemon thread. The report is true when
        nothing was left behind. A second call returns an empty (true) report at once.
        """
        if self._closed:
            return ShutdownReport()
        self._closed = True
        return shut_down(self, timeout)

    async def ashutdown(self, timeout: float = 5.0) -> ShutdownReport:
        """The asyncio form of shutdown: waits in a thread, never blocking the loop."""
        return await asyncio.to_thread(self.shutdown, timeout)

    def __enter__(self) -> Observability:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    async def __aenter__(self) -> Observability:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ashutdown()
