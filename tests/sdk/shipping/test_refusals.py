"""A batch the portal refuses reaches the agent: a WARNING with the reason code, a metric,
`shipping_status()`, and no resending of the same batch in a loop. Against the real portal
over HTTP (live server, PostgreSQL)."""

from __future__ import annotations

import logging
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents_sdk import AuditConfig, HttpTransport, Observability
from obsportal.ingest.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


class CountingHttp(HttpTransport):
    """The real HTTP transport, counting the batches it posts."""

    posts = 0

    def _post(self, body: bytes):
        self.posts += 1
        return super()._post(body)


def refused_total(obs: Observability, reason: str) -> float:
    for family in text_string_to_metric_families(obs.metrics.exposition().decode()):
        for sample in family.samples:
            if (
                sample.name == "agent_audit_batches_refused_total"
                and sample.labels.get("reason") == reason
            ):
                return sample.value
    return 0.0


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_batch_refused_for_the_wrong_agent_is_logged_counted_shown_and_not_resent(
    agent_token, live_server, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="agents_sdk.shipping")
    _, token = agent_token  # the credential of agent-7
    transport = CountingHttp(live_server.url, token)
    # An agent that records under another name than its credential's.
    obs = Observability(
        "agent-8",
        AuditConfig(tmp_path / "audit.jsonl", transport=transport,
                    shipper_options={"max_wait": 0.01}),
        metrics=True,
    )  # fmt: skip
    for i in range(3):
        obs.record_audit("tool_execute", details={"i": i}, user_id="alice")
    wait_for(lambda: obs.shipping_status().last_refusal is not None)

    status = obs.shipping_status()
    assert status.last_refusal is not None
    assert (status.last_refusal.code, status.last_refusal.first_seq) == ("wrong_agent", 0)
    assert status.last_refusal.last_seq == 2
    assert status.held and status.pending == 3 and status.transport == "CountingHttp"
    assert "wrong_agent" in (status.last_error or "")
    (warning,) = [r for r in caplog.records if r.name == "agents_sdk.shipping"]
    assert warning.levelno == logging.WARNING and "wrong_agent" in warning.getMessage()
    assert refused_total(obs, "wrong_agent") == 1

    time.sleep(1.5)  # a loop would have resent it several times by now
    assert transport.posts == 1
    obs.resume_shipping()  # the operator says the cause is fixed: one more attempt
    wait_for(lambda: transport.posts == 2)
    wait_for(lambda: refused_total(obs, "wrong_agent") == 2)
    report = obs.shutdown(timeout=2)
    assert not report and report.audit_pending == 3 and "wrong_agent" in report.shipping_error
    assert transport.posts == 2  # shutdown does not resend a held batch either
    assert AuditEvent.objects.count() == 0
