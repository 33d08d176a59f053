"""The verifier's hash of stored rows equals the SDK's compute_hash on every input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents_sdk.audit.canonical import NotCanonicalizable
from agents_sdk.audit.chain import compute_hash
from obsportal.integrity.verification import stored_event_hash

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def body(details, seq=3, commitments=None):
    return {
        "v": 1,
        "event_id": "01900000-0000-7000-8000-000000000000",
        "stream": "s",
        "seq": seq,
        "ts": "2026-01-01T00:00:00.000000Z",
        "agent_id": "a",
        "action": "tool_execute",
        "result": "success",
        "user_id": None,
        "resource": "r",
        "details": details,
        "trace_id": None,
        "span_id": None,
        "pii_commitments": commitments or {},
        "prev_hash": "0" * 64,
    }


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5), st.integers(0, 2**62))
def test_stored_event_hash_equals_compute_hash(details, seq):
    event = body(details, seq)
    try:
        expected = compute_hash(event, event["prev_hash"])
    except NotCanonicalizable:
        with pytest.raises(NotCanonicalizable):
            stored_event_hash(event, event["prev_hash"])
        return
    assert stored_event_hash(event, event["prev_hash"]) == expected


def test_floats_and_non_ascii_keys_take_the_reference_path():
    event = body({"é": 1.5, "z": [1e21, 0.1]}, commitments={"ü": "ab" * 32})
    assert stored_event_hash(event, event["prev_hash"]) == compute_hash(event, event["prev_hash"])
