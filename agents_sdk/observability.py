"""The Observability facade: one object an agent holds, turning parts on and owning shutdown."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from agents_sdk.audit.journal import FsyncMode, JournalWriter
from agents_sdk.shipping.shipper import Shipper
from agents_sdk.shipping.transports import CeleryTransport, Transport


class Observability:
    """Audit (journal + shipping) for one agent; further parts plug in beside it."""

    def __init__(
        self,
        agent_id: str,
        journal_path: str | os.PathLike[str] | None = None,
        *,
        fsync: FsyncMode = "batch",
        transport: Transport | None = None,
        broker_url: str | None = None,
        ingest_token: str | None = None,
        ship: bool = True,
        ship_batch_size: int = 500,
    ):
        self.agent_id = agent_id
        self.journal: JournalWriter | None = None
        self.shipper: Shipper | None = None
        if journal_path is None:
            journal_path = os.environ.get("AGENTS_SDK_JOURNAL")
        if journal_path is None:
            return
        self.journal = JournalWriter(Path(journal_path), agent_id, fsync=fsync)
        if not ship:
            return
        if transport is None:
            broker_url = broker_url or os.environ.get("CELERY_BROKER_URL")
            token = ingest_token or os.environ.get("AGENTS_SDK_INGEST_TOKEN")
            if broker_url:
                transport = CeleryTransport(broker_url, token=token)
        if transport is not None:
            self.shipper = Shipper(
                self.journal.path,
                transport,
                batch_size=ship_batch_size,
                durable_offset=lambda: self.journal.durable_offset,
            )
            self.journal.add_listener(self.shipper.wakeup)
            self.shipper.start()

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
        """Append one audit event to the journal; returns the event. Never touches the network."""
        if self.journal is None:
            raise RuntimeError("audit is off: pass journal_path= (or set AGENTS_SDK_JOURNAL)")
        return self.journal.append(
            action,
            result,
            details=details,
            user_id=user_id,
            resource=resource,
            trace_id=trace_id,
            span_id=span_id,
            personal_data=personal_data,
        )

    async def arecord_audit(
        self, action: str, result: str = "success", **fields: Any
    ) -> dict[str, Any]:
        """The asyncio form of record_audit; the call does not block the loop on I/O."""
        await asyncio.sleep(0)
        return self.record_audit(action, result, **fields)

    def pending_events(self) -> int:
        """Events recorded but not yet acknowledged by the portal."""
        if self.journal is None:
            return 0
        shipped = self.shipper.cursor.seq if self.shipper else -1
        return self.journal.last_seq - shipped

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Make every event durable and ship what can be shipped within `timeout`."""
        deadline = time.monotonic() + timeout
        done = True
        if self.journal is not None:
            done = self.journal.flush(timeout=max(0.0, deadline - time.monotonic()))
        if self.shipper is not None:
            done = self.shipper.stop(timeout=max(0.0, deadline - time.monotonic())) and done
        if self.journal is not None:
            self.journal.close()
        return done

    def __enter__(self) -> Observability:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
