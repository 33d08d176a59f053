import asyncio
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents_sdk import AuditConfig, JournalLocked, LoggingConfig, Observability, TracingConfig
from tests.independent_chain import read_journal, verify_chain


def test_every_part_is_off_unless_asked(monkeypatch):
    for name in ("AGENTS_SDK_JOURNAL", "AGENTS_SDK_METRICS", "AGENTS_SDK_LOGGING",
                 "AGENTS_SDK_TRACING", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER",
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "AGENTS_SDK_METRICS_PORT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    obs = Observability("agent-1")
    assert not obs.metrics.enabled and not obs.tracing.enabled
    assert obs.journal is None and obs.logger.disabled
    with pytest.raises(RuntimeError, match="audit is off"):
        obs.record_audit("x")
    assert obs.pending_events() == 0
    assert obs.shutdown(timeout=1)


def test_any_subset_comes_from_the_environment(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AGENTS_SDK_JOURNAL", str(tmp_path / "env.jsonl"))
    monkeypatch.setenv("AGENTS_SDK_METRICS", "true")
    monkeypatch.setenv("AGENTS_SDK_LOGGING", "1")
    monkeypatch.setenv("AGENTS_SDK_TRACING", "1")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    obs = Observability("env-agent")
    assert obs.metrics.enabled and obs.tracing.enabled and obs.journal is not None
    with obs.step("s") as step:
        obs.logger.info("inside")
    assert obs.shutdown(timeout=5)
    (event,) = read_journal(tmp_path / "env.jsonl")
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert event["span_id"] == line["span_id"] == step.span_id


def test_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("AGENTS_SDK_METRICS", "1")
    monkeypatch.setenv("AGENTS_SDK_TRACING", "1")
    obs = Observability("agent-1", metrics=False, tracing=False)
    assert not obs.metrics.enabled and not obs.tracing.enabled


def test_record_audit_takes_the_active_span_ids(tmp_path):
    obs = Observability(
        "agent-1",
        audit=AuditConfig(tmp_path / "j.jsonl", ship=False),
        tracing=TracingConfig(span_exporter=InMemorySpanExporter()),
    )
    with obs.step() as step:
        obs.record_audit("data_access", resource="db://customers")
        obs.record_audit("data_access", trace_id="ab" * 16, span_id="cd" * 8)
    obs.record_audit("data_access")
    obs.shutdown()
    inside, explicit, _step, outside = read_journal(tmp_path / "j.jsonl")
    assert (inside["trace_id"], inside["span_id"]) == (step.trace_id, step.span_id)
    assert (explicit["trace_id"], explicit["span_id"]) == ("ab" * 16, "cd" * 8)
    assert outside["trace_id"] is None


def test_asyncio_callers(tmp_path):
    out = io.StringIO()

    async def main():
        async with Observability(
            "agent-1",
            audit=AuditConfig(tmp_path / "j.jsonl", ship=False, fsync="always"),
            metrics=True,
            logging=LoggingConfig(stream=out),
            tracing=TracingConfig(span_exporter=InMemorySpanExporter()),
        ) as obs:
            async with obs.step("async") as step:
                await obs.arecord_audit("data_access", details={"rows": 3})
                await obs.apermission_request("read", granted=True)
                obs.logger.info("done")
            return step

    step = asyncio.run(main())
    events = read_journal(tmp_path / "j.jsonl")
    assert verify_chain(events) == []
    assert [e["action"] for e in events] == ["data_access", "permission_request", "agent_step"]
    assert {e["span_id"] for e in events} == {step.span_id}
    assert json.loads(out.getvalue())["span_id"] == step.span_id


def test_shutdown_is_bounded_when_the_collector_is_unreachable_and_idempotent(tmp_path):
    obs = Observability(
        "agent-1",
        audit=AuditConfig(tmp_path / "j.jsonl", ship=False),
        metrics=True,
        tracing=TracingConfig(otlp_endpoint="http://127.0.0.1:9", otlp_protocol="http/protobuf"),
    )
    for _ in range(20):
        with obs.step():
            pass
    started = time.monotonic()
    assert not obs.shutdown(timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert obs.shutdown(timeout=0.5)  # already shut down: nothing left to do
    assert len(read_journal(tmp_path / "j.jsonl")) == 20


def test_the_existing_audit_signature_still_works(tmp_path):
    with Observability("agent-1", audit=AuditConfig(tmp_path / "j.jsonl", ship=False)) as obs:
        event = obs.record_audit("tool_execute", "failure", details={"tool": "x"})
    assert event["seq"] == 0
    assert read_journal(tmp_path / "j.jsonl")[0]["result"] == "failure"


def test_bad_configuration_is_refused_clearly(monkeypatch):
    with pytest.raises(ValueError, match="agent_id"):
        Observability("")
    with pytest.raises(ValueError, match="OTLP protocol 'udp'"):
        Observability(
            "a", tracing=TracingConfig(otlp_endpoint="http://127.0.0.1:4317", otlp_protocol="udp")
        )
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        Observability("a", tracing=True)


def test_parts_that_are_off_do_not_even_load_their_libraries():
    code = (
        "import sys\n"
        "from agents_sdk import Observability\n"
        "obs = Observability('a')\n"
        "with obs.step():\n"
        "    pass\n"
        "print(sorted(m for m in ('prometheus_client', 'opentelemetry.sdk') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_a_failed_start_releases_what_it_had_started(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    with Observability("a", audit=AuditConfig(path, ship=False)):
        before = {t.name for t in threading.enumerate()}
        with pytest.raises(JournalLocked):
            Observability(
                "a",
                audit=AuditConfig(path, ship=False),
                logging=True,
                tracing=TracingConfig(span_exporter=InMemorySpanExporter()),
            )
        time.sleep(0.1)
        assert {t.name for t in threading.enumerate()} <= before  # no span worker left behind
    monkeypatch.setenv("AGENTS_SDK_METRICS_PORT", "http")
    with pytest.raises(ValueError, match="AGENTS_SDK_METRICS_PORT='http' is not a port number"):
        Observability("a")
