"""Regenerate chain_v1.json with the independent implementation (tests/independent_chain.py).

Run once when the vectors must change: `python -m tests.vectors.make_chain_vectors`.
Every implementation of the hash rules is tested against the file it writes.
"""

import json
from pathlib import Path

from tests.independent_chain import ZERO, commitment, event_hash

SALT = "000102030405060708090a0b0c0d0e0f"
BASES = [
    {
        "action": "llm_call",
        "result": "success",
        "user_id": None,
        "resource": None,
        "details": {"model": "m-1", "input_tokens": 812, "cost_usd": 0.0123},
    },
    {
        "action": "tool_execute",
        "result": "failure",
        "user_id": "alice@example.com",
        "resource": "crm://tickets/7",
        "details": {
            "tool": "search",
            "args": {"q": "naïve café"},
            "€": 1e21,
            "small": 1e-7,
            "neg": -0.0,
        },
    },
    {
        "action": "permission_request",
        "result": "denied",
        "user_id": "bob",
        "resource": None,
        "details": {"\ufb33": "dalet", "\U0001f600": "grin", "\r": "cr", "z": [True, None, 4.5]},
    },
]


def main() -> None:
    events, prev = [], ZERO
    for seq, base in enumerate(BASES):
        event = {
            "v": 1,
            "event_id": f"01900000-0000-7000-8000-00000000000{seq}",
            "stream": "vector-stream",
            "seq": seq,
            "ts": f"2026-01-02T03:04:0{seq}.123456Z",
            "agent_id": "vector-agent",
            **base,
            "trace_id": "0af7651916cd43dd8448eb211c80319c" if seq == 1 else None,
            "span_id": "b7ad6b7169203331" if seq == 1 else None,
            "pii_commitments": {},
            "prev_hash": prev,
        }
        if seq == 1:
            event["pii_commitments"] = {"email": commitment("alice@example.com", SALT)}
        event["hash"] = event_hash(event)
        if seq == 1:
            event["pii"] = {"email": {"value": "alice@example.com", "salt": SALT}}
        events.append(event)
        prev = event["hash"]
    target = Path(__file__).with_name("chain_v1.json")
    target.write_text(json.dumps(events, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
