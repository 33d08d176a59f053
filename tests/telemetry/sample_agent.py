"""A test agent process instrumented with the real SDK: metrics on a port, audit events
shipped through the journal and Celery to the portal's worker.

    python -m tests.telemetry.sample_agent --agent-id A --journal J --broker URL \
        --token T --metrics-port P --seconds S
"""

from __future__ import annotations

import argparse
import time

from agents_sdk import AuditConfig, MetricsConfig, Observability

TOOLS = ("search_tickets", "send_email")


class ToolFailed(Exception):
    pass


def step(obs: Observability, i: int) -> None:
    tool = TOOLS[i % len(TOOLS)]
    with obs.step("answer", user_id=f"user-{i % 3}"):
        with obs.llm_call("acme", "m-1") as call:
            time.sleep(0.01)
            call.report(input_tokens=300 + i % 7 * 50, output_tokens=40 + i % 5, cost_usd=0.0021)
        obs.permission_request(tool, granted=i % 4 != 3, user_id=f"user-{i % 3}")
        try:
            with obs.tool_call(tool):
                time.sleep(0.005)
                if i % 5 == 4:
                    raise ToolFailed(f"{tool} timed out")
        except ToolFailed:
            pass


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--agent-id", "--journal", "--broker", "--token"):
        parser.add_argument(name, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    obs = Observability(
        args.agent_id,
        AuditConfig(args.journal, broker_url=args.broker, ingest_token=args.token),
        metrics=MetricsConfig(port=args.metrics_port),
    )
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline:
        step(obs, i)
        i += 1
        time.sleep(0.1)
    obs.shutdown(timeout=10)


if __name__ == "__main__":
    main()
