import os
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from agents_sdk import AuditConfig, InMemoryTransport, MetricsConfig, Observability

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_FAMILIES = {
    # family name (as the parser reports it): label names
    "agent_steps": {"agent_id", "status"},
    "agent_step_duration_seconds": {"agent_id"},
    "agent_tool_calls": {"agent_id", "tool", "status"},
    "agent_tool_duration_seconds": {"agent_id", "tool"},
    "agent_llm_calls": {"agent_id", "provider", "model", "status"},
    "agent_llm_duration_seconds": {"agent_id", "provider", "model"},
    "agent_llm_tokens": {"agent_id", "provider", "model", "direction"},
    "agent_llm_cost_usd": {"agent_id", "provider", "model"},
    "agent_errors": {"agent_id", "kind"},
    "agent_permission_requests": {"agent_id", "decision"},
    "agent_audit_events_recorded": {"agent_id"},
    "agent_audit_events_shipped": {"agent_id"},
    "agent_audit_events_pending": {"agent_id"},
    "agent_spans_dropped": {"agent_id"},
    "agent_observability_overhead_seconds": {"agent_id"},
}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def exercise(obs: Observability) -> None:
    for _ in range(2):
        with obs.step("plan"):
            with obs.llm_call("openai", "gpt-4o") as call:
                call.report(input_tokens=100, output_tokens=20, cost_usd=0.25)
            with obs.tool_call("search"):
                pass
    with pytest.raises(KeyError), obs.step("broken"), obs.tool_call("lookup"):
        raise KeyError("missing")
    obs.permission_request("send_email", granted=True)
    obs.permission_request("delete_account", granted=False)


def test_exposition_has_every_dashboard_metric_with_its_labels_and_values(tmp_path):
    obs = Observability(
        "a-1", audit=AuditConfig(tmp_path / "j.jsonl", ship=False), metrics=True, tracing=False
    )
    exercise(obs)
    text = obs.metrics.exposition().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(EXPECTED_FAMILIES) <= set(families)
    for name, labels in EXPECTED_FAMILIES.items():
        label_sets = {frozenset(s.labels) - {"le"} for s in families[name].samples}
        assert label_sets == {frozenset(labels)}, name
    assert families["agent_step_duration_seconds"].type == "histogram"
    assert families["agent_audit_events_pending"].type == "gauge"

    assert value(text, "agent_steps_total", agent_id="a-1", status="success") == 2
    assert value(text, "agent_steps_total", agent_id="a-1", status="error") == 1
    assert value(text, "agent_step_duration_seconds_count", agent_id="a-1") == 3
    assert value(text, "agent_tool_calls_total", agent_id="a-1", tool="search", status="success")
    assert value(text, "agent_tool_calls_total", agent_id="a-1", tool="lookup", status="error") == 1
    llm = {"agent_id": "a-1", "provider": "openai", "model": "gpt-4o"}
    assert value(text, "agent_llm_calls_total", **llm, status="success") == 2
    assert value(text, "agent_llm_tokens_total", **llm, direction="input") == 200
    assert value(text, "agent_llm_tokens_total", **llm, direction="output") == 40
    assert value(text, "agent_llm_cost_usd_total", **llm) == pytest.approx(0.5)
    # One exception crossed two hooks (tool inside step): one error, two failed outcomes.
    assert value(text, "agent_errors_total", agent_id="a-1", kind="KeyError") == 1
    assert value(text, "agent_permission_requests_total", agent_id="a-1", decision="granted") == 1
    assert value(text, "agent_permission_requests_total", agent_id="a-1", decision="denied") == 1
    # 3 steps + 2 LLM + 3 tool calls + 2 permission requests, one audit event each.
    assert value(text, "agent_audit_events_recorded_total", agent_id="a-1") == 10
    assert value(text, "agent_audit_events_pending", agent_id="a-1") == 10
    assert value(text, "agent_observability_overhead_seconds_count", agent_id="a-1") == 3
    assert value(text, "agent_spans_dropped_total", agent_id="a-1") == 0
    obs.shutdown()


def test_promtool_accepts_the_exposition(tmp_path):
    # promtool comes with the Debian package `prometheus` (installed by .ci/run).
    assert shutil.which("promtool"), "promtool is missing: apt-get install prometheus"
    obs = Observability("a-1", audit=AuditConfig(tmp_path / "j.jsonl", ship=False), metrics=True)
    exercise(obs)
    proc = subprocess.run(
        ["promtool", "check", "metrics"],
        input=obs.metrics.exposition(),
        capture_output=True,
    )
    obs.shutdown()
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert proc.stdout.decode().strip() == "", proc.stdout.decode()


def test_shipped_and_pending_follow_the_shipper(tmp_path):
    transport = InMemoryTransport()
    obs = Observability(
        "a-1", audit=AuditConfig(tmp_path / "j.jsonl", transport=transport), metrics=True
    )
    for i in range(5):
        obs.record_audit("data_access", details={"i": i})
    assert obs.shutdown(timeout=10)
    assert sum(len(b) for b in transport.batches) == 5
    text = obs.metrics.exposition().decode()
    assert value(text, "agent_audit_events_shipped_total", agent_id="a-1") == 5
    assert value(text, "agent_audit_events_pending", agent_id="a-1") == 0
    assert value(text, "agent_audit_events_recorded_total", agent_id="a-1") == 5


def test_each_observability_has_its_own_registry_unless_the_global_one_is_asked(tmp_path):
    first = Observability("a-1", metrics=True)
    second = Observability("a-2", metrics=True)
    with first.step():
        pass
    assert value(first.metrics.exposition().decode(), "agent_steps_total",
                 agent_id="a-1", status="success") == 1  # fmt: skip
    assert "a-1" not in second.metrics.exposition().decode()
    assert (
        REGISTRY.get_sample_value("agent_steps_total", {"agent_id": "a-1", "status": "success"})
        is None
    )

    shared = Observability("a-3", metrics=MetricsConfig(registry=REGISTRY))
    try:
        with shared.step():
            pass
        labels = {"agent_id": "a-3", "status": "success"}
        assert REGISTRY.get_sample_value("agent_steps_total", labels) == 1
    finally:
        for collector in {
            c
            for c in list(REGISTRY._collector_to_names)
            if getattr(c, "_name", "").startswith("agent_")
        }:
            REGISTRY.unregister(collector)


def test_http_endpoint_serves_the_exposition(tmp_path):
    obs = Observability("a-1", metrics=MetricsConfig(port=0))
    with obs.tool_call("search"):
        pass
    with urllib.request.urlopen(f"http://127.0.0.1:{obs.metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    assert (
        value(text, "agent_tool_calls_total", agent_id="a-1", tool="search", status="success") == 1
    )
    port = obs.metrics_port
    obs.shutdown()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_metrics_off_is_a_no_op_part():
    obs = Observability("a-1")
    assert obs.metrics.enabled is False
    with obs.step():
        pass
    assert obs.metrics.exposition() == b""


def test_metrics_by_environment(monkeypatch):
    monkeypatch.setenv("AGENTS_SDK_METRICS", "1")
    assert Observability("a-1").metrics.enabled
    monkeypatch.setenv("AGENTS_SDK_METRICS", "0")
    assert not Observability("a-1").metrics.enabled


WORKER = textwrap.dedent(
    """
    import sys
    from agents_sdk import AuditConfig, MetricsConfig, Observability
    steps, journal, serve = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "serve"
    obs = Observability("mp-agent", AuditConfig(journal, ship=False),
                        metrics=MetricsConfig(port=0 if serve else None))
    for _ in range(steps):
        with obs.step():
            with obs.tool_call("search"):
                pass
    print(obs.metrics_port or 0, flush=True)
    sys.stdin.readline()  # stay alive until the test has scraped
    obs.shutdown()
    """
)


def test_multiprocess_mode_aggregates_two_processes(tmp_path):
    mp_dir = tmp_path / "prom"
    mp_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp_dir), "PYTHONPATH": str(ROOT)}

    def start(steps, name, serve):
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, str(steps), str(tmp_path / name), serve],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    server = start(3, "a.jsonl", "serve")
    other = start(5, "b.jsonl", "no")
    try:
        port = int(server.stdout.readline())
        assert int(other.stdout.readline()) == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        for proc in (server, other):
            proc.stdin.write("\n")
            proc.stdin.close()
            proc.wait(timeout=20)
    assert value(text, "agent_steps_total", agent_id="mp-agent", status="success") == 8
    labels = {"agent_id": "mp-agent", "tool": "search", "status": "success"}
    assert value(text, "agent_tool_calls_total", **labels) == 8
    assert value(text, "agent_step_duration_seconds_count", agent_id="mp-agent") == 8
    # Each step records 2 audit events (step + tool): 6 + 10 wait in two live processes.
    assert value(text, "agent_audit_events_pending", agent_id="mp-agent") == 16
    assert value(text, "agent_audit_events_recorded_total", agent_id="mp-agent") == 16
    assert server.returncode == 0 and other.returncode == 0


@pytest.mark.parametrize("own_registry", [False, True])
def test_batched_step_metrics_are_exact_at_every_scrape(own_registry):
    from prometheus_client import CollectorRegistry, Histogram

    from agents_sdk.metrics import OVERHEAD_BUCKETS

    registry = CollectorRegistry() if own_registry else None
    metrics = MetricsConfig(registry=registry) if own_registry else True
    obs = Observability("batched", metrics=metrics)
    reference = Histogram("ref", "same buckets, observed directly", buckets=OVERHEAD_BUCKETS,
                          registry=CollectorRegistry())  # fmt: skip
    # Values on, just below and above the bounds, and past the last one.
    observed = [b * f for b in OVERHEAD_BUCKETS for f in (0.5, 1.0, 1.0000001)] + [0.5, 0.0]
    for round_ in range(2):  # a scrape between two rounds sees the first, then both
        for seconds in observed:
            obs.metrics.step_overhead(seconds)
            reference.observe(seconds)
            obs.metrics.step("success", seconds)
        text = obs.metrics.exposition().decode()
        count = len(observed) * (round_ + 1)
        assert value(text, "agent_steps_total", agent_id="batched", status="success") == count
        for bound in [*OVERHEAD_BUCKETS, float("inf")]:
            le = "+Inf" if bound == float("inf") else str(bound)
            expected = reference._buckets[[*OVERHEAD_BUCKETS, float("inf")].index(bound)]
            got = value(text, "agent_observability_overhead_seconds_bucket", agent_id="batched",
                        le=le)  # fmt: skip
            cumulative = sum(
                b.get()
                for b in reference._buckets[: [*OVERHEAD_BUCKETS, float("inf")].index(bound) + 1]
            )
            assert got == cumulative, (le, got, cumulative, expected.get())
        assert value(
            text, "agent_observability_overhead_seconds_sum", agent_id="batched"
        ) == pytest.approx(reference._sum.get())
    # The registry read directly (get_sample_value) applies them too.
    assert obs.metrics.registry.get_sample_value(
        "agent_steps_total", {"agent_id": "batched", "status": "success"}
    ) == 2 * len(observed)
    obs.shutdown()
