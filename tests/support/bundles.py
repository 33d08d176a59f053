"""Reading, editing and forging JSON Lines evidence bundles, as an attacker would."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agents_sdk.audit.chain import compute_hash, hashed_body
from agents_sdk.offline.checkpoint import (
    checkpoint_body,
    head_leaf_hash,
    parse_checkpoint,
    sign_note,
    signer_from_private,
    split_note,
    verifier_key,
)
from agents_sdk.offline.merkle import inclusion_proof, root_from_leaf_hashes

Stream = tuple[dict[str, Any], list[dict[str, Any]]]


def read_bundle(path: Path) -> tuple[dict[str, Any], list[Stream], dict[str, Any]]:
    """(header, [(stream header, events)], end line) of a bundle file."""
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    header, end, streams = lines[0], lines[-1], []
    for item in lines[1:-1]:
        if item.get("type") == "stream":
            streams.append((item, []))
        else:
            streams[-1][1].append(item)
    return header, streams, end


def write_bundle_lines(path: Path, header, streams: list[Stream], end) -> None:
    out = [orjson.dumps(header)]
    for stream, events in streams:
        out.append(orjson.dumps(stream))
        out.extend(orjson.dumps(event) for event in events)
    out.append(orjson.dumps(end))
    path.write_bytes(b"\n".join(out) + b"\n")


def forge(path: Path, seq: int) -> None:
    """Rewrite every stream from `seq` on, recompute the chain and re-sign it all with a key
    of the forger's own, carried by the bundle: consistent unless the portal key is pinned."""
    header, streams, end = read_bundle(path)
    private = Ed25519PrivateKey.generate()
    name = header["portal_key"]["verifier_key"].split("+")[0]
    heads = []
    for stream, events in streams:
        prev = events[0]["prev_hash"]
        for event in events:
            if event["seq"] >= seq:
                event["details"] = {"forged": True}
            event["prev_hash"] = prev
            event["hash"] = compute_hash(hashed_body(event), prev)
            prev = event["hash"]
        heads.append((stream["stream"], events[-1]["seq"], prev))
    heads.sort()
    leaves = [head_leaf_hash(*h) for h in heads]
    [checkpoint] = header["checkpoints"]
    signed = parse_checkpoint(split_note(checkpoint["note"])[0])
    body = checkpoint_body(
        signed.origin, len(heads), root_from_leaf_hashes(leaves), signed.extensions
    )
    checkpoint["note"] = sign_note(body, name, signer_from_private(private))
    for stream, _events in streams:
        index = next(i for i, h in enumerate(heads) if h[0] == stream["stream"])
        stream["head"].update(
            seq=heads[index][1],
            hash=heads[index][2],
            index=index,
            proof=[base64.b64encode(p).decode() for p in inclusion_proof(index, leaves)],
        )
    header["portal_key"] = {
        "verifier_key": verifier_key(name, private.public_key().public_bytes_raw()),
        "pem": "",
    }
    write_bundle_lines(path, header, streams, end)
