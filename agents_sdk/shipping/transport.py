"""The transport interface: what carries one batch of journal events to the portal.

A transport answers only when the portal has answered for the batch: the
shipper advances its cursor on that answer alone, so a broker that loses a
queued message (Redis restarted without persistence) costs a resend, not an event.

`send(events) -> Verdict` is the whole contract (`Transport.send`). `submit(batch)`
starts a batch and returns a `Pending` so that several batches can be in flight at
once; the default sends at once. The shipper still takes the answers in order.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from agents_sdk.audit.segments import JournalPosition

INGEST_TASK = "obsportal.ingest.admit_batch"
INGEST_QUEUE = "ingest"
INGEST_PATH = "/api/v1/ingest"


class TransportError(Exception):
    """The batch may not have arrived; send it again later.

    `retry_after`: the seconds the portal asked to wait first (HTTP 429 or 503 with
    `Retry-After`), or None when it did not say.
    """

    def __init__(self, *args: object, retry_after: float | None = None):
        super().__init__(*args)
        self.retry_after = retry_after


class BatchRejected(Exception):
    """The portal refused the batch for good; `code` is its stable reason code
    (`wrong_agent`, `bad_token`, ... or `http_<status>`), `reason` the sentence."""

    def __init__(self, reason: str, code: str = ""):
        super().__init__(f"the portal rejected the batch ({code or 'no code'}): {reason}")
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class Verdict:
    """The portal's answer on one batch (the fields of its admission result)."""

    status: str  # "accepted" or "rejected"
    admitted: int = 0
    duplicates: int = 0
    pending: int = 0  # events parked until a gap before them fills
    forks: int = 0
    reason_code: str = ""
    reason: str = ""
    heads: Mapping[str, int] = field(default_factory=dict)
    # Everything the portal said, including fields this SDK does not know yet.
    answer: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> Verdict:
        """Read the portal's JSON answer; unknown fields stay in `answer`."""

        def count(name: str) -> int:
            value = answer.get(name) or 0
            return value if isinstance(value, int) else 0

        heads = answer.get("heads")
        return cls(
            status=str(answer.get("status") or ""),
            admitted=count("admitted"),
            duplicates=count("duplicates"),
            pending=count("pending"),
            forks=count("forks"),
            reason_code=str(answer.get("reason_code") or ""),
            reason=str(answer.get("reason") or ""),
            heads=dict(heads) if isinstance(heads, Mapping) else {},
            answer=dict(answer),
        )

    @classmethod
    def accepted_all(cls, count: int) -> Verdict:
        """What a portal says when it stores every event of a batch of `count`."""
        return cls.from_answer({"status": "accepted", "offered": count, "admitted": count})

    @property
    def refused(self) -> bool:
        return self.status == "rejected"

    # In 0.1 `send` returned the answer as a dict; reading it as one works until 0.3.
    def __getitem__(self, key: str) -> Any:
        if key in self.answer:
            return self.answer[key]
        if key in _VERDICT_FIELDS:
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self.answer or dict.fromkeys(_VERDICT_FIELDS))


_VERDICT_FIELDS = frozenset(
    ("status", "admitted", "duplicates", "pending", "forks", "reason_code", "reason", "heads")
)


def check_verdict(answer: Verdict | Mapping[str, Any]) -> Verdict:
    """The answer as a Verdict; a refusal raises BatchRejected with its reason and code."""
    verdict = answer if isinstance(answer, Verdict) else Verdict.from_answer(answer)
    if verdict.refused:
        raise BatchRejected(verdict.reason or "no reason given", verdict.reason_code)
    return verdict


@dataclass(slots=True)
class Batch:
    """Consecutive journal lines and where they end."""

    lines: list[bytes]
    end: JournalPosition
    first_seq: int
    last_seq: int
    # The agent's signature over the batch's head (`SignedHead.as_wire`); None from a
    # journal without a key.
    head: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.lines)

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]

    def jsonl(self) -> str:
        """The batch as one string of JSON lines, straight from the journal's bytes."""
        return b"".join(self.lines).decode()

    def ingest_body(self) -> bytes:
        """`{"events": [...], "heads": [...]}` straight from the journal's bytes, without
        re-serializing the events."""
        events = b'{"events":[' + b",".join(line.rstrip(b"\n") for line in self.lines) + b"]"
        if self.head is None:
            return events + b"}"
        return events + b',"heads":[' + orjson.dumps(self.head) + b"]}"


class Pending(Protocol):
    """A batch in flight: `result` waits for its verdict (or raises why there is none)."""

    def result(self, timeout: float | None = None) -> Verdict: ...


class Answered:
    """A Pending whose answer is already known."""

    __slots__ = ("_verdict", "_error")

    def __init__(self, verdict: Verdict | None = None, error: Exception | None = None):
        self._verdict, self._error = verdict, error

    def result(self, timeout: float | None = None) -> Verdict:
        if self._error is not None:
            raise self._error
        assert self._verdict is not None
        return self._verdict


class Transport(ABC):
    """Carries batches to the portal. Subclasses implement `send`; `submit` and `close`
    have defaults (send at once; nothing to release)."""

    @abstractmethod
    def send(self, events: list[dict[str, Any]]) -> Verdict:
        """Deliver `events`; return the portal's verdict or raise TransportError/BatchRejected."""

    def submit(self, batch: Batch) -> Pending:
        """Start sending `batch`; the default sends it now and returns the known answer."""
        try:
            return Answered(self.send(batch.events()))
        except (TransportError, BatchRejected) as exc:
            return Answered(error=exc)

    def close(self) -> None:  # noqa: B027 - optional, unlike send
        """Release connections; the transport is not used afterwards."""


class _DuckTransport(Transport):
    """Adapts an object that only has the older, informal methods (send, maybe submit)."""

    def __init__(self, inner: Any):
        self.inner = inner

    def send(self, events: list[dict[str, Any]]) -> Verdict:
        return check_verdict(self.inner.send(events))

    def submit(self, batch: Batch) -> Pending:
        start = getattr(self.inner, "submit", None)
        if start is None:
            return super().submit(batch)
        return start(batch)  # type: ignore[no-any-return]

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def as_transport(transport: Any) -> Transport:
    """`transport` as a Transport; an informal one (no base class) still works until 0.3."""
    if isinstance(transport, Transport):
        return transport
    if not callable(getattr(transport, "send", None)):
        raise TypeError(f"{type(transport).__name__} is not a transport (no send method)")
    warnings.warn(
        f"{type(transport).__name__} does not derive from agents_sdk.Transport; "
        "informal transports stop working in 0.3",
        DeprecationWarning,
        stacklevel=3,
    )
    return _DuckTransport(transport)


def submit(transport: Transport, batch: Batch) -> Pending:
    """`transport.submit(batch)` (kept for callers of the 0.1 helper)."""
    return as_transport(transport).submit(batch)
