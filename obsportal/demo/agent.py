"""A small scripted agent for the first-run demo: real SDK calls, no network, no LLM key."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from agents_sdk import Observability

USERS = ["alice@example.com", "bob@example.com", "carol@example.com"]
TOOLS = [
    ("search_tickets", "crm://tickets"),
    ("read_patient_record", "ehr://patients/1042"),
    ("send_email", "smtp://outbound"),
    ("query_invoices", "erp://invoices"),
]


def run_scripted_agent(
    observability: Observability,
    steps: int,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Act out `steps` agent steps (LLM call, permission, tool call); return events recorded."""
    rng = random.Random(seed)
    recorded = 0
    for step in range(steps):
        user = rng.choice(USERS)
        tool, resource = rng.choice(TOOLS)
        records: list[dict[str, Any]] = [
            {
                "action": "llm_call",
                "result": "success" if rng.random() > 0.05 else "error",
                "details": {
                    "provider": "scripted",
                    "model": "demo-model-1",
                    "input_tokens": rng.randint(200, 1200),
                    "output_tokens": rng.randint(20, 300),
                    "step": step,
                },
            },
            {
                "action": "permission_request",
                "result": "denied" if tool == "send_email" and rng.random() < 0.4 else "success",
                "details": {"permission": f"tool:{tool}", "step": step},
                "resource": resource,
            },
        ]
        if records[-1]["result"] == "success":
            records.append(
                {
                    "action": "tool_execute",
                    "result": "success" if rng.random() > 0.1 else "failure",
                    "details": {"tool": tool, "duration_ms": rng.randint(5, 900), "step": step},
                    "resource": resource,
                    "personal_data": {"subject_email": user},
                }
            )
        for record in records:
            observability.record_audit(user_id=user, **record)
            recorded += 1
        if progress is not None:
            progress(step + 1, steps)
    return recorded
