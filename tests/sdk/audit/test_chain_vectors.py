import json
from pathlib import Path

import pytest

from agents_sdk.audit.chain import (
    InvalidEvent,
    compute_hash,
    hashed_body,
    validate_envelope,
    verify_event_hash,
    verify_personal_data,
)
from tests.independent_chain import event_hash, verify_chain

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "chain_v1.json").read_text())


@pytest.mark.parametrize("event", VECTORS, ids=lambda e: f"seq{e['seq']}")
def test_sdk_hash_matches_shared_vector(event):
    validate_envelope(event)
    assert compute_hash(hashed_body(event), event["prev_hash"]) == event["hash"]
    verify_personal_data(event)


def test_vectors_form_a_chain_for_the_independent_verifier():
    assert verify_chain(VECTORS) == []
    assert all(event_hash(e) == e["hash"] for e in VECTORS)


def test_erasing_the_sidecar_keeps_the_hash():
    event = dict(VECTORS[1])
    event.pop("pii")
    assert verify_event_hash(event) == VECTORS[1]["hash"]


def test_changed_field_is_detected():
    event = json.loads(json.dumps(VECTORS[1]))
    event["details"]["tool"] = "delete_everything"
    with pytest.raises(InvalidEvent, match="hash does not match"):
        verify_event_hash(event)
