"""A portal that says "429, Retry-After: N" is waited for: no resend before N seconds
(bounded, with jitter), the batch stays pending, and nothing is lost. Against the real
portal's ingest over HTTP (live server, PostgreSQL, its Redis-counted rate limit)."""

from __future__ import annotations

import time

import pytest

from agents_sdk import AuditConfig, HttpTransport, Observability
from agents_sdk.shipping.http_transport import parse_retry_after
from agents_sdk.shipping.shipper import retry_delay
from agents_sdk.shipping.transport import TransportError
from obsportal.ingest.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)

WINDOW = 3  # seconds of the portal's rate-limit window in this test


class TimedHttp(HttpTransport):
    """The real HTTP transport, noting when each POST went out and how it ended."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.posts: list[tuple[float, str]] = []

    def _post(self, body: bytes):
        sent = time.monotonic()
        try:
            verdict = super()._post(body)
        except TransportError as exc:
            self.posts.append((sent, f"error {exc.retry_after}"))
            raise
        self.posts.append((sent, "ok"))
        return verdict


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_429_with_retry_after_is_waited_for_and_nothing_is_lost(
    agent_token, live_server, settings, tmp_path
):
    settings.OBSPORTAL_INGEST_RATE_LIMIT = f"1/{WINDOW}"  # one request per window
    agent_id, token = agent_token
    transport = TimedHttp(live_server.url, token)
    obs = Observability(
        agent_id,
        AuditConfig(tmp_path / "audit.jsonl", transport=transport,
                    shipper_options={"max_wait": 0.01}),
    )  # fmt: skip
    # Start just after a window begins, so the first two POSTs share one window.
    time.sleep(WINDOW - time.time() % WINDOW + 0.05)
    obs.record_audit("tool_execute", details={"i": 0})
    wait_for(lambda: len(transport.posts) == 1)
    obs.record_audit("tool_execute", details={"i": 1})
    wait_for(lambda: len(transport.posts) == 2)
    refused_at, outcome = transport.posts[1]
    assert outcome.startswith("error ")
    retry_after = float(outcome.split()[1])
    assert 1 <= retry_after <= WINDOW
    # While it waits: the event is pending, the error and the next attempt are shown.
    wait_for(lambda: obs.shipping_status().retry_at is not None, timeout=5)
    status = obs.shipping_status()
    assert status.pending == 1 and "HTTP 429" in (status.last_error or "")
    assert status.retry_at >= time.time() + retry_after - 0.5 - (time.monotonic() - refused_at)

    wait_for(lambda: obs.pending_events() == 0)
    (resent_at, resent) = transport.posts[2]
    # The backoff alone would have resent after 0.2 s; the portal asked for retry_after.
    assert resent_at - refused_at >= retry_after * 0.95
    assert resent_at - refused_at <= retry_after * 1.1 + 1.0  # its jitter, and no more
    assert resent == "ok" and len(transport.posts) == 3
    assert obs.shutdown(timeout=5)
    assert sorted(AuditEvent.objects.filter(agent_id=agent_id).values_list("seq", flat=True)) == [
        0,
        1,
    ]


def test_retry_after_is_read_as_seconds_or_a_date_and_bounded():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    asked = TransportError("HTTP 429", retry_after=30)
    delays = [retry_delay(asked, attempt=0) for _ in range(200)]
    assert all(30 <= d <= 33 for d in delays) and len(set(delays)) > 1  # jitter: not in step
    assert 300 <= retry_delay(TransportError("x", retry_after=86400), 0) <= 330  # bounded
    assert retry_delay(TransportError("x"), 3) == 1.6  # no Retry-After: the backoff
    assert retry_delay(TransportError("x", retry_after=1), 8) == 10.0  # backoff longer: kept
