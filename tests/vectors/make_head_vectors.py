"""Regenerate head_signature_v1.json: a worked example of the agent-signed head, format v1.

Run once when the vectors must change: `python -m tests.vectors.make_head_vectors`. The
message is assembled here from the format's text (DESIGN.md, docs/integrity.md), not by
the SDK, and signed with `cryptography` directly; the SDK and any other implementation
are tested against the file.
"""

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SEED = bytes(range(32))
CASES = [
    {
        "agent_id": "vector-agent",
        "stream": "vector-stream",
        "seq": 2,
        # The hash of seq 2 of chain_v1.json: the head of that worked chain.
        "hash": json.loads(Path(__file__).with_name("chain_v1.json").read_text())[2]["hash"],
    },
    {
        "agent_id": "agent-7",
        "stream": "01900000-0000-7000-8000-000000000000",
        "seq": 0,
        "hash": "00" * 32,
    },
]


def main() -> None:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    public = private.public_key().public_bytes_raw()
    vectors = []
    for case in CASES:
        message = (
            b"obsportal/stream-head/v1\n"
            + b"agent " + case["agent_id"].encode() + b"\n"
            + b"stream " + case["stream"].encode() + b"\n"
            + b"seq " + str(case["seq"]).encode() + b"\n"
            + b"hash " + case["hash"].encode() + b"\n"
        )  # fmt: skip
        signature = private.sign(message)
        vectors.append(
            {
                **case,
                "message": message.decode(),
                "message_hex": message.hex(),
                "signature_hex": signature.hex(),
                "wire": {
                    "v": 1,
                    "stream": case["stream"],
                    "seq": case["seq"],
                    "hash": case["hash"],
                    "key": base64.b64encode(public).decode(),
                    "sig": base64.b64encode(signature).decode(),
                },
            }
        )
    data = {
        "format": "obsportal/stream-head/v1",
        "algorithm": "Ed25519 (RFC 8032) over the message bytes",
        "seed_hex": SEED.hex(),
        "public_key_hex": public.hex(),
        "vectors": vectors,
    }
    target = Path(__file__).with_name("head_signature_v1.json")
    target.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
