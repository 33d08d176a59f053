"""The ingest lag histogram, observed a batch at a time, equals one `observe` per event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from obsportal.telemetry.metrics import LAG_BUCKETS, event_time, observe_lags

STORED_AT = datetime(2026, 12, 7, 12, 0, 0, 250_000, tzinfo=UTC)


def _envelope_ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _histograms() -> tuple[Histogram, Histogram]:
    registry = CollectorRegistry()
    return tuple(  # type: ignore[return-value]
        Histogram(name, "lag", buckets=LAG_BUCKETS, registry=registry)
        for name in ("one_by_one", "batched")
    )


def _samples(histogram: Histogram) -> dict[str, float]:
    (metric,) = histogram.collect()
    return {
        f"{sample.name.rsplit('_', 1)[-1]}{sample.labels.get('le', '')}": sample.value
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def _observe_one_by_one(histogram: Histogram, stamps: list) -> None:
    for stamp in stamps:
        moment = event_time({"ts": stamp})
        if moment is not None:
            histogram.observe(max(0.0, (STORED_AT - moment).total_seconds()))


def _assert_equal(stamps: list) -> None:
    one_by_one, batched = _histograms()
    _observe_one_by_one(one_by_one, stamps)
    observe_lags(batched, stamps, STORED_AT)
    expected, got = _samples(one_by_one), _samples(batched)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if key == "sum":
            assert abs(got[key] - value) < 1e-6 * max(1.0, len(stamps)), (key, got, expected)
        else:
            assert got[key] == value, (key, got, expected)


def test_lags_on_every_bucket_bound_and_ahead_of_the_clock_count_as_observe_counts_them():
    # Exactly on a bound is within it (lag <= bound); a microsecond more is the next bucket.
    stamps = []
    for bound in LAG_BUCKETS:
        on_bound = STORED_AT - timedelta(seconds=bound)
        stamps += [_envelope_ts(on_bound), _envelope_ts(on_bound - timedelta(microseconds=1))]
    stamps += [_envelope_ts(STORED_AT), _envelope_ts(STORED_AT + timedelta(seconds=3))]
    stamps += [_envelope_ts(STORED_AT - timedelta(days=40))]  # past every bound: +Inf
    _assert_equal(stamps)
    one_by_one, _ = _histograms()
    _observe_one_by_one(one_by_one, stamps)
    assert _samples(one_by_one)["count"] == len(stamps)  # every stamp above was observed


def test_values_that_are_no_envelope_stamp_are_observed_as_observe_would_or_skipped():
    _assert_equal(
        [
            None,
            17,
            "not a time",
            "2026-12-07T11:59:59+00:00",
            _envelope_ts(STORED_AT),
            "Z" * 27,
            _envelope_ts(STORED_AT) + "\n" + _envelope_ts(STORED_AT),
        ]
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.integers(min_value=-5_000_000, max_value=100_000 * 1_000_000).map(
            lambda micros: _envelope_ts(STORED_AT - timedelta(microseconds=micros))
        ),
        max_size=60,
    )
)
def test_any_batch_of_stamps_gives_the_histogram_one_observe_each_gives(stamps):
    _assert_equal(stamps)
