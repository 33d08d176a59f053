"""A test agent process: audit events through the real SDK, and the SDK-side metrics.

Until the SDK's own metrics (agents_sdk.metrics) are merged, this exposes the metric
names of the SDK contract with prometheus_client directly; the audit events go
through the real journal and shipper to the portal's Celery worker.

    python -m tests.telemetry.sample_agent --agent-id A --journal J --broker URL \
        --token T --metrics-port P --seconds S
"""

from __future__ import annotations

import argparse
import random
import time

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from agents_sdk import Observability

STEPS = Counter("agent_steps", "Agent steps", ["agent_id", "status"])
STEP_DURATION = Histogram("agent_step_duration_seconds", "Step duration", ["agent_id"])
TOOL_CALLS = Counter("agent_tool_calls", "Tool calls", ["agent_id", "tool", "status"])
TOOL_DURATION = Histogram("agent_tool_duration_seconds", "Tool duration", ["agent_id", "tool"])
LLM_CALLS = Counter("agent_llm_calls", "LLM calls", ["agent_id", "provider", "model", "status"])
LLM_DURATION = Histogram(
    "agent_llm_duration_seconds", "LLM call duration", ["agent_id", "provider", "model"]
)
LLM_TOKENS = Counter(
    "agent_llm_tokens", "LLM tokens", ["agent_id", "provider", "model", "direction"]
)
LLM_COST = Counter("agent_llm_cost_usd", "LLM cost in USD", ["agent_id", "provider", "model"])
ERRORS = Counter("agent_errors", "Errors", ["agent_id", "kind"])
PERMISSIONS = Counter("agent_permission_requests", "Permission requests", ["agent_id", "decision"])
RECORDED = Counter("agent_audit_events_recorded", "Audit events recorded", ["agent_id"])
SHIPPED = Counter("agent_audit_events_shipped", "Audit events shipped", ["agent_id"])
PENDING = Gauge("agent_audit_events_pending", "Audit events not yet shipped", ["agent_id"])
SPANS_DROPPED = Counter("agent_spans_dropped", "Spans dropped", ["agent_id"])
OVERHEAD = Histogram(
    "agent_observability_overhead_seconds", "Observability time per step", ["agent_id"]
)
TOOLS = ("search_tickets", "send_email")
PROVIDER, MODEL = "acme", "m-1"


def step(obs: Observability, agent: str, i: int, rng: random.Random) -> None:
    started = time.perf_counter()
    tool = TOOLS[i % len(TOOLS)]
    denied = i % 4 == 3
    PERMISSIONS.labels(agent, "denied" if denied else "granted").inc()
    if denied:
        result, status = "denied", "error"
        ERRORS.labels(agent, "permission_denied").inc()
    else:
        result, status = "success", "success"
        TOOL_CALLS.labels(agent, tool, "success").inc()
        TOOL_DURATION.labels(agent, tool).observe(rng.uniform(0.01, 0.3))
    LLM_CALLS.labels(agent, PROVIDER, MODEL, "success").inc()
    LLM_DURATION.labels(agent, PROVIDER, MODEL).observe(rng.uniform(0.2, 1.5))
    LLM_TOKENS.labels(agent, PROVIDER, MODEL, "input").inc(rng.randint(100, 900))
    LLM_TOKENS.labels(agent, PROVIDER, MODEL, "output").inc(rng.randint(20, 300))
    LLM_COST.labels(agent, PROVIDER, MODEL).inc(0.0021)
    audit_started = time.perf_counter()
    obs.record_audit(
        "tool_execute", result, details={"tool": tool, "step": i}, user_id=f"user-{i % 3}"
    )
    RECORDED.labels(agent).inc()
    OVERHEAD.labels(agent).observe(time.perf_counter() - audit_started)
    STEPS.labels(agent, status).inc()
    STEP_DURATION.labels(agent).observe(time.perf_counter() - started + rng.uniform(0.5, 3.0))


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--agent-id", "--journal", "--broker", "--token"):
        parser.add_argument(name, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    agent = args.agent_id
    start_http_server(args.metrics_port, addr="127.0.0.1")
    SPANS_DROPPED.labels(agent)
    obs = Observability(agent, args.journal, broker_url=args.broker, ingest_token=args.token)
    rng = random.Random(7)
    shipped = 0
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline:
        step(obs, agent, i, rng)
        i += 1
        now_shipped = obs.shipper.cursor.seq + 1
        SHIPPED.labels(agent).inc(max(0, now_shipped - shipped))
        shipped = max(shipped, now_shipped)
        PENDING.labels(agent).set(i - shipped)
        time.sleep(0.1)
    obs.shutdown(timeout=10)


if __name__ == "__main__":
    main()
