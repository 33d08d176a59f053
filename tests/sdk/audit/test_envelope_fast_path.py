"""The fast paths of envelope checking and body canonicalization agree with the full ones.

`validate_envelope` answers a well-formed event with a few operations and sends
everything else through the full check; `canonical_body` skips re-walking what that
check proved plain. Neither may accept what the full path refuses, nor produce other
bytes: these properties mutate the shared vectors field by field to hold them so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents_sdk.audit.canonical import NotCanonicalizable, canonicalize
from agents_sdk.audit.chain import (
    InvalidEvent,
    _validate_envelope_fully,
    _well_formed,
    canonical_body,
    hashed_body,
    validate_envelope,
)

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "chain_v1.json").read_text())
FIELDS = [name for name in VECTORS[0] if name != "pii"]

# Text near the edges the checks care about: NUL, non-ASCII, hex case, trailing newlines.
edgy_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789abcdefABCDEF-{}\n\x00", max_size=70),
    st.sampled_from(
        [
            "",
            "\x00",
            "a\x00b",
            "success\n",
            "0" * 64 + "\n",
            "A" * 64,
            "0" * 63,
            "0190a6f2-1b2c-7d3e-8f40-5a6b7c8d9e0f\n",
            "0190A6F2-1B2C-7D3E-8F40-5A6B7C8D9E0F",
            "{0190a6f2-1b2c-7d3e-8f40-5a6b7c8d9e0f}",
            "0190a6f21b2c7d3e8f405a6b7c8d9e0f",
            "urn:uuid:0190a6f2-1b2c-7d3e-8f40-5a6b7c8d9e0f",
            "2026-11-25T18:00:00.123456Z\n",
            "2026-11-25T18:00:00Z",
            "x" * 201,
            "x" * 1001,
            "é",
            "\ud800",
        ]
    ),
)
json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats()
    | edgy_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(edgy_text, children, max_size=4)
    ),
    max_leaves=12,
)
wild = st.one_of(
    json_like,
    st.sampled_from([0, 1, 2, -1, True, False, 1.0, 2**53, 2**53 - 1, math.nan, (1, 2)]),
)


@st.composite
def mutated_events(draw):
    event = json.loads(json.dumps(draw(st.sampled_from(VECTORS))))
    for name in draw(st.lists(st.sampled_from([*FIELDS, "pii", "extra"]), max_size=3)):
        action = draw(st.sampled_from(["replace", "replace", "delete"]))
        if action == "delete":
            event.pop(name, None)
        elif name == "pii":
            event["pii"] = draw(
                st.one_of(
                    wild,
                    st.dictionaries(
                        st.sampled_from(["email", "phone"]),
                        st.one_of(
                            wild, st.fixed_dictionaries({"value": json_like, "salt": edgy_text})
                        ),
                        max_size=2,
                    ),
                )
            )
        elif name in ("details", "pii_commitments"):
            event[name] = draw(st.one_of(wild, st.dictionaries(edgy_text, json_like, max_size=4)))
        else:
            event[name] = draw(wild)
    return event


def _outcome(check, event):
    try:
        check(event)
    except InvalidEvent as exc:
        return str(exc)
    return None


@settings(max_examples=800, deadline=None)
@given(mutated_events())
def test_the_fast_envelope_check_accepts_only_what_the_full_check_accepts(event):
    full = _outcome(_validate_envelope_fully, event)
    if _well_formed(event):
        assert full is None
    assert _outcome(validate_envelope, event) == full


def _canonical(make, event):
    try:
        return make(event)
    except (NotCanonicalizable, UnicodeError) as exc:  # lone surrogates: either, alike
        return (type(exc).__name__, str(exc))


@settings(max_examples=800, deadline=None)
@given(mutated_events(), st.dictionaries(edgy_text, json_like, max_size=5))
def test_the_canonical_body_is_byte_identical_to_the_reference(event, details):
    event["details"] = details
    if _outcome(validate_envelope, event) is not None:
        return
    reference = _canonical(lambda e: canonicalize(hashed_body(e)), event)
    assert _canonical(canonical_body, event) == reference


@pytest.mark.parametrize("event", VECTORS, ids=lambda e: f"seq{e['seq']}")
def test_the_vectors_take_the_fast_paths(event):
    assert _well_formed(event)
    assert canonical_body(event) == canonicalize(hashed_body(event))


def _vector_with(**changes):
    event = json.loads(json.dumps(VECTORS[0]))
    event.update(changes)
    return event


@pytest.mark.parametrize(
    "event",
    [
        # The fixed-form fields are checked in one regex, a line each: a newline inside one
        # must not let its halves pass as two fields.
        _vector_with(stream="agent\nstream"),
        _vector_with(action="tool_execute\n" + "0" * 64),
        _vector_with(ts=VECTORS[0]["ts"] + "\n"),
        _vector_with(prev_hash="0" * 32 + "\n" + "0" * 31),
        # As many keys as the envelope's (plus `pii`), but not those keys.
        {**{k: v for k, v in VECTORS[0].items() if k != "hash"}, "extra": "x"},
        {**{k: v for k, v in VECTORS[0].items() if k != "hash"}, "pii": {}, "extra": "x"},
        {**VECTORS[0], "extra": "x"},
    ],
)
def test_the_fast_check_refuses_split_fields_and_wrong_keys(event):
    assert not _well_formed(event)
    assert _outcome(_validate_envelope_fully, event) is not None
