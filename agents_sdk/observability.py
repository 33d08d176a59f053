"""The Observability facade: one object an agent holds, turning parts on and owning shutdown.

Four parts, each on or off by argument or environment: metrics (prometheus_client),
JSON logging, tracing (OpenTelemetry) and audit (journal + shipper). A part that
is off is a no-op object with the same methods, so the hooks never ask.

Environment (an argument always wins, except OTEL_SDK_DISABLED which turns tracing off):

| variable | meaning |
| --- | --- |
| `AGENTS_SDK_JOURNAL` | journal path: audit on |
| `AGENTS_SDK_METRICS`, `AGENTS_SDK_METRICS_PORT` | metrics on; serve `/metrics` on that port |
| `AGENTS_SDK_LOGGING`, `AGENTS_SDK_LOG_LEVEL` | JSON logs on (stderr); their level |
| `AGENTS_SDK_TRACING` | tracing on (also implied by an OTLP endpoint or OTEL_TRACES_EXPORTER) |
| `OTEL_SDK_DISABLED=true` | tracing off whatever else says |
| `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | the trace resource |
| `OTEL_TRACES_EXPORTER` | `otlp` (default), `console`, `none` (spans made, not exported) |
| `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `..._PROTOCOL` | collector; `grpc` or `http/protobuf` |
| `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_SCHEDULE_DELAY` | the span queue bound and delay |
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from agents_sdk._off import NoMetrics, NoTracing
from agents_sdk._otel import current_ids
from agents_sdk._otel import trace as otel_trace
from agents_sdk.audit.journal import FsyncMode, JournalWriter
from agents_sdk.hooks import NO_CALL, LlmCall, Step, ToolCall
from agents_sdk.logs import (
    DEFAULT_FLUSH_INTERVAL,
    close_json_logger,
    json_logger,
    silent_logger,
)
from agents_sdk.shipping.celery_transport import CeleryTransport
from agents_sdk.shipping.http_transport import HttpTransport
from agents_sdk.shipping.shipper import Shipper
from agents_sdk.shipping.transport import Transport

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from agents_sdk.metrics import AgentMetrics
    from agents_sdk.tracing import AgentTracing

_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip().lower() in _TRUE


def _tracing_wanted(tracing: bool | None) -> bool:
    if _env_flag("OTEL_SDK_DISABLED"):
        return False
    if tracing is not None:
        return tracing
    flag = _env_flag("AGENTS_SDK_TRACING")
    if flag is not None:
        return flag
    exporter = (os.environ.get("OTEL_TRACES_EXPORTER") or "").strip().lower()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    return bool(endpoint) or exporter not in ("", "none")


def _in_background(work: Callable[[], None], name: str) -> threading.Event:
    """Run `work` on a daemon thread; the event is set when it has finished (or failed)."""
    finished = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            finished.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    return finished


def _finished() -> threading.Event:
    done = threading.Event()
    done.set()
    return done


def _port_from_env() -> int:
    value = os.environ["AGENTS_SDK_METRICS_PORT"]
    if not value.strip().isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError(f"AGENTS_SDK_METRICS_PORT={value!r} is not a port number (0-65535)")
    return int(value)


class Observability:
    """Metrics, JSON logs, traces and audit for one agent; any subset, by argument or env.

    `journal_options` and `shipper_options` pass further settings (e.g. rotation, batches
    in flight) through to the JournalWriter and the Shipper.
    """

    def __init__(
        self,
        agent_id: str,
        journal_path: str | os.PathLike[str] | None = None,
        *,
        fsync: FsyncMode = "batch",
        transport: Transport | None = None,
        broker_url: str | None = None,
        ingest_url: str | None = None,
        ingest_token: str | None = None,
        ship: bool = True,
        ship_batch_size: int = 500,
        journal_options: dict[str, Any] | None = None,
        shipper_options: dict[str, Any] | None = None,
        agent_name: str | None = None,
        metrics: bool | None = None,
        metrics_port: int | None = None,
        metrics_registry: Any = None,
        logging: bool | None = None,
        log_level: int | str | None = None,
        log_stream: IO[str] | None = None,
        log_flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        logger_name: str | None = None,
        tracing: bool | None = None,
        service_name: str | None = None,
        otlp_endpoint: str | None = None,
        otlp_protocol: str | None = None,
        span_exporter: SpanExporter | None = None,
        span_queue_size: int | None = None,
        span_schedule_delay_millis: float | None = None,
        set_global_tracer_provider: bool = False,
    ):
        if not agent_id or not isinstance(agent_id, str):
            raise ValueError("agent_id must be a non-empty string")
        self.agent_id = agent_id
        self.agent_name = agent_name or agent_id
        self._closed = False

        # Every part starts off, so a failure half-way through can shut down what started.
        self.metrics: AgentMetrics | NoMetrics = NoMetrics()
        self.tracing: AgentTracing | NoTracing = NoTracing()
        self._tracer: Any = None
        self.logger = silent_logger(agent_id)
        self._audit: Callable[..., dict[str, Any] | None] = self._no_audit
        self.journal: JournalWriter | None = None
        self.shipper: Shipper | None = None
        self._refresh_on_record = False
        self._instrumented = False
        self.metrics_port: int | None = None
        try:
            self._start_parts(
                metrics, metrics_port, metrics_registry, logging, log_level, log_stream,
                log_flush_interval, logger_name, tracing, service_name, otlp_endpoint,
                otlp_protocol, span_exporter, span_queue_size, span_schedule_delay_millis,
                set_global_tracer_provider,
            )  # fmt: skip
            self._setup_audit(
                journal_path,
                fsync,
                transport,
                broker_url,
                ingest_url,
                ingest_token,
                ship,
                ship_batch_size,
                journal_options or {},
                shipper_options or {},
            )
            if self.journal is not None:
                self.metrics.track_audit_progress(self._audit_progress)
                # Under multiprocess a scrape in another process cannot call us: keep files fresh.
                self._refresh_on_record = self.metrics.enabled and bool(
                    os.environ.get("PROMETHEUS_MULTIPROC_DIR")
                )
            # With every part off a hook is one shared no-op object (decorators return fn).
            self._instrumented = bool(
                self.metrics.enabled
                or self.tracing.enabled
                or not self.logger.disabled
                or self.journal is not None
            )
            if metrics_port is None and os.environ.get("AGENTS_SDK_METRICS_PORT"):
                metrics_port = _port_from_env()
            if metrics_port is not None:
                self.metrics_port = self.metrics.serve(metrics_port)
        except BaseException:
            self.shutdown(timeout=1.0)
            raise

    def _start_parts(
        self,
        metrics: bool | None,
        metrics_port: int | None,
        metrics_registry: Any,
        logging: bool | None,
        log_level: int | str | None,
        log_stream: IO[str] | None,
        log_flush_interval: float,
        logger_name: str | None,
        tracing: bool | None,
        service_name: str | None,
        otlp_endpoint: str | None,
        otlp_protocol: str | None,
        span_exporter: SpanExporter | None,
        span_queue_size: int | None,
        span_schedule_delay_millis: float | None,
        set_global_tracer_provider: bool,
    ) -> None:
        agent_id = self.agent_id
        # Metrics first: the other parts report into them. The real parts are imported only
        # when on: an agent without them never loads prometheus_client or the OTel SDK.
        if metrics is None:
            metrics = bool(
                _env_flag("AGENTS_SDK_METRICS")
                or metrics_port is not None
                or os.environ.get("AGENTS_SDK_METRICS_PORT")
            )
        if metrics:
            from agents_sdk.metrics import AgentMetrics

            self.metrics = AgentMetrics(agent_id, registry=metrics_registry)

        if _tracing_wanted(tracing):
            from agents_sdk.tracing import AgentTracing, exporter_factory_from_env, otlp_exporter

            if span_exporter is not None:
                factory: Callable[[], SpanExporter] | None = lambda: span_exporter  # noqa: E731
            elif otlp_endpoint is not None or otlp_protocol is not None:
                factory = lambda: otlp_exporter(otlp_endpoint, otlp_protocol)  # noqa: E731
            else:
                factory = exporter_factory_from_env(None, None)
            self.tracing = AgentTracing(
                service_name or agent_id,
                exporter_factory=factory,
                on_drop=self.metrics.span_dropped,
                max_queue_size=span_queue_size,
                schedule_delay_millis=span_schedule_delay_millis,
                set_global=set_global_tracer_provider,
            )
            self._tracer = self.tracing.tracer

        if logging is None:
            logging = bool(_env_flag("AGENTS_SDK_LOGGING"))
        if logging:
            level = log_level or os.environ.get("AGENTS_SDK_LOG_LEVEL", "INFO").upper()
            self.logger = json_logger(
                agent_id,
                name=logger_name,
                level=level,
                stream=log_stream,
                flush_interval=log_flush_interval,
            )

    def _setup_audit(
        self,
        journal_path: str | os.PathLike[str] | None,
        fsync: FsyncMode,
        transport: Transport | None,
        broker_url: str | None,
        ingest_url: str | None,
        ingest_token: str | None,
        ship: bool,
        ship_batch_size: int,
        journal_options: dict[str, Any],
        shipper_options: dict[str, Any],
    ) -> None:
        if journal_path is None:
            journal_path = os.environ.get("AGENTS_SDK_JOURNAL")
        if journal_path is None:
            return
        self.journal = JournalWriter(
            Path(journal_path), self.agent_id, fsync=fsync, **journal_options
        )
        self._audit = self._audit_to_journal
        if not ship:
            return
        if transport is None:
            # The portal's HTTP endpoint when one is named, else its Celery broker.
            ingest_url = ingest_url or os.environ.get("AGENTS_SDK_INGEST_URL")
            broker_url = broker_url or os.environ.get("CELERY_BROKER_URL")
            token = ingest_token or os.environ.get("AGENTS_SDK_INGEST_TOKEN")
            if ingest_url:
                if not token:
                    raise ValueError("ingest_url needs ingest_token (or AGENTS_SDK_INGEST_TOKEN)")
                transport = HttpTransport(ingest_url, token)
            elif broker_url:
                transport = CeleryTransport(broker_url, token=token)
        if transport is not None:
            self.shipper = Shipper(
                self.journal.path,
                transport,
                batch_size=ship_batch_size,
                durable_offset=lambda: self.journal.durable_offset,
                **shipper_options,
            )
            self.journal.add_listener(self.shipper.wakeup)
            self.shipper.start()

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

        Without explicit ids the event carries the active span's trace_id and span_id.
        """
        if self.journal is None:
            raise RuntimeError("audit is off: pass journal_path= (or set AGENTS_SDK_JOURNAL)")
        if trace_id is None and span_id is None:
            trace_id, span_id = current_ids()
        return self._audit_to_journal(
            action, result, details, user_id, resource, trace_id, span_id, personal_data
        )

    async def arecord_audit(
        self, action: str, result: str = "success", **fields: Any
    ) -> dict[str, Any]:
        """The asyncio form of record_audit; the call does not block the loop on I/O."""
        return await self._in_loop(self.record_audit, action, result, **fields)

    async def _in_loop(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
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

    def _audit_progress(self) -> tuple[int, int]:
        shipped = self.shipper.cursor.seq + 1 if self.shipper else 0
        return shipped, self.pending_events()

    # --- lifecycle --------------------------------------------------------------------------

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Flush every part within `timeout` seconds, then close; True if all was flushed.

        Never hangs: a part still busy at the deadline (an unreachable collector) is
        abandoned on a daemon thread. A second call returns at once.
        """
        if self._closed:
            return True
        self._closed = True
        deadline = time.monotonic() + max(0.0, timeout)

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        traces_flushed: list[bool] = []

        def stop_tracing() -> None:
            traces_flushed.append(self.tracing.force_flush(left()))
            self.tracing.shutdown()

        # Spans export while the journal flushes: both wait on I/O.
        traces_done = (
            _in_background(stop_tracing, "agents-sdk-trace-shutdown")
            if self.tracing.enabled
            else _finished()
        )
        done = True
        if self.journal is not None:
            done = self.journal.flush(timeout=left())
        if self.shipper is not None:
            done = self.shipper.stop(timeout=left()) and done
        if self.journal is not None:
            self.journal.close()
        # Last: the pending/shipped figures are final now. The exposition server takes up
        # to its poll interval (0.5 s) to stop, so it too only gets what time is left.
        if self.metrics_port is None:
            self.metrics.shutdown()
            metrics_done = _finished()
        else:
            metrics_done = _in_background(self.metrics.shutdown, "agents-sdk-metrics-shutdown")
        if not traces_done.wait(left()):
            # The collector is unreachable or slow: end the exporter's retries so the
            # abandoned thread finishes soon instead of retrying for its own timeout.
            self.tracing.abort()
            done = False
        done = metrics_done.wait(left()) and all(traces_flushed) and done
        close_json_logger(self.logger)
        return done

    async def ashutdown(self, timeout: float = 5.0) -> bool:
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
