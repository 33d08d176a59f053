"""The parts' configuration objects, the environment, and the 0.1 keywords kept for one release."""

from __future__ import annotations

import io
import itertools
import warnings

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents_sdk import (
    AuditConfig,
    InMemoryTransport,
    LoggingConfig,
    MetricsConfig,
    Observability,
    TracingConfig,
)
from agents_sdk import environment as env


def test_configuration_objects_turn_each_part_on_with_their_settings(tmp_path):
    out, spans, transport = io.StringIO(), InMemorySpanExporter(), InMemoryTransport()
    obs = Observability(
        "agent-7",
        AuditConfig(tmp_path / "audit.jsonl", transport=transport, batch_size=3),
        metrics=MetricsConfig(),
        logging=LoggingConfig(stream=out, flush_interval=0),
        tracing=TracingConfig(span_exporter=spans, service_name="support"),
    )
    with obs.step("answer"):
        obs.logger.info("hello")
    assert obs.shutdown(timeout=10)
    assert [e["action"] for e in transport.events] == ["agent_step"]
    assert '"message":"hello"' in out.getvalue()
    (span,) = spans.get_finished_spans()
    assert span.resource.attributes["service.name"] == "support"
    assert obs.shipper is not None and obs.shipper.batch_size == 3


def test_the_01_keywords_still_work_and_say_what_replaces_them(tmp_path):
    out = io.StringIO()
    with pytest.warns(DeprecationWarning, match="go in 0.3") as caught:
        obs = Observability(
            "agent-7", journal_path=tmp_path / "a.jsonl", ship=False, logging=True,
            log_stream=out, log_flush_interval=0,
        )  # fmt: skip
    (warning,) = caught
    message = str(warning.message)
    assert "journal_path= -> AuditConfig(journal=)" in message
    assert "log_stream= -> LoggingConfig(stream=)" in message
    assert warning.filename == __file__  # points at the caller, not at the SDK
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the hot path never warns
        obs.record_audit("data_access")
        with obs.step("s"):
            obs.logger.info("inside")
    obs.shutdown()
    assert obs.parts.audit == AuditConfig(tmp_path / "a.jsonl", ship=False)
    assert '"message":"inside"' in out.getvalue()


def test_a_part_takes_a_config_or_the_old_keywords_but_not_both(tmp_path):
    with pytest.raises(TypeError, match="not both"), pytest.warns(DeprecationWarning, match="0.3"):
        Observability("a", logging=LoggingConfig(), log_stream=io.StringIO())
    with pytest.raises(TypeError, match="unexpected keyword arguments: journal"):
        Observability("a", journal=tmp_path / "a.jsonl")
    with pytest.raises(TypeError, match="metrics= takes a MetricsConfig"):
        Observability("a", metrics="yes")  # type: ignore[arg-type]


def test_none_lets_the_environment_decide_and_false_turns_a_part_off(tmp_path, monkeypatch):
    monkeypatch.setenv(env.JOURNAL, str(tmp_path / "env.jsonl"))
    monkeypatch.setenv(env.METRICS, "yes")
    obs = Observability("agent-7", AuditConfig(ship=False))
    assert obs.journal is not None and obs.journal.path == tmp_path / "env.jsonl"
    assert obs.metrics.enabled
    obs.shutdown()
    off = Observability("agent-7", audit=False, metrics=False)
    assert off.journal is None and not off.metrics.enabled
    monkeypatch.delenv(env.JOURNAL)
    with pytest.raises(ValueError, match="AGENTS_SDK_JOURNAL"):
        Observability("agent-7", AuditConfig())


def test_every_variable_the_sdk_reads_is_a_documented_constant():
    import ast
    from pathlib import Path

    import agents_sdk

    root = Path(agents_sdk.__file__).parent
    body = ast.parse((root / "environment.py").read_text()).body
    documented = {
        statement.value.value
        for statement, after in itertools.pairwise(body)
        if isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
    }
    assert set(env.ALL) == documented
    mentioned = set()
    for path in root.rglob("*.py"):
        if path.name == "environment.py" or "offline" in path.parts:
            continue
        text = path.read_text()
        assert "os.environ" not in text and "getenv" not in text, path
        mentioned |= {n for n in env.ALL if f'"{n}"' in text}
    assert not mentioned, f"spelled out instead of named: {mentioned}"
