"""The rate CUSUM kernel against a plain Python reading of its definition, and its calibration."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from detectors.calibration import Reference, ScoreTransform, calibrated, wilson_upper
from detectors.rate_cusum import RateCusum, RateCusumParams


def plain(params: RateCusumParams, values: list[float]) -> list[int]:
    """The definition, value by value: cell, increments, floor at zero, one drift per excursion."""
    rows = params.increment_rows()
    sums = [0.0] * len(rows)
    latched, flags = False, []
    for x in values:
        cell = sum(1 for e in params.edges if e <= x) if params.edges else min(max(int(x), 0), len(rows[0]) - 1)
        sums = [max(0.0, s + row[cell]) for s, row in zip(sums, rows, strict=True)]
        if any(s > params.threshold for s in sums) and not latched:
            latched = True
            flags.append(2)
        else:
            latched = latched and any(s > 0.0 for s in sums)
            flags.append(0)
    return flags


def fed(params: RateCusumParams, values: list[float], cuts: list[int]) -> list[int]:
    detector, flags = RateCusum(params), []
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < len(values)), len(values)]
    for start, end in itertools.pairwise(bounds):
        flags += detector.update_many(values[start:end]).flags.tolist()
    return flags


PARAMS = [
    RateCusumParams(watch="rate", rates=[0.1], threshold=6.0),
    RateCusumParams(watch="spread", edges=[-1.3, -0.7, 0.7, 1.3], rates=[0.2, 0.5], threshold=5.0),
    RateCusumParams(watch="location", edges=[-1.0, 0.0, 1.0], rates=[0.15, 0.35, 0.35, 0.15], threshold=4.0,
                    slack=0.01),
    RateCusumParams(watch="categories", rates=[0.5, 0.3, 0.2, 0.01], threshold=5.0),
]


@settings(max_examples=30, deadline=None)
@given(which=st.integers(0, len(PARAMS) - 1), seed=st.integers(0, 10_000), shift=st.floats(0.0, 2.0),
       cuts=st.lists(st.integers(1, 1_999), max_size=6))
def test_the_kernel_follows_the_definition_whatever_the_columns(which: int, seed: int, shift: float,
                                                                 cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    params = PARAMS[which]
    if params.watch == "rate":
        values = (rng.random(2_000) < np.where(np.arange(2_000) < 1_000, 0.1, 0.1 + shift / 4)).astype(float)
    elif params.watch == "categories":
        late = rng.choice(5, size=2_000, p=[0.3, 0.3, 0.2, 0.1, 0.1])  # code 4: beyond the known cells
        values = np.where(np.arange(2_000) < 1_000, rng.choice(3, size=2_000, p=[0.5, 0.3, 0.2]), late).astype(float)
    else:
        values = rng.normal(size=2_000) * np.where(np.arange(2_000) < 1_000, 1.0, 1.0 + shift) + shift
    expected = plain(params, values.tolist())
    assert fed(params, values.tolist(), cuts) == expected
    assert fed(params, values.tolist(), []) == expected


def test_a_persistent_shift_raises_one_drift_and_a_return_rearms_it() -> None:
    params = RateCusumParams(watch="rate", rates=[0.1], threshold=8.0)
    values = [1.0] * 200 + [0.0] * 3_000 + [1.0] * 50  # the zeros bring the statistic back to zero
    drifts = RateCusum(params).update_many(values).drifts.tolist()
    assert len(drifts) == 2 and drifts[0] < 20 and 3_200 <= drifts[1] < 3_220


def test_parameters_that_do_not_fit_together_are_refused() -> None:
    with pytest.raises(ValidationError, match="one rate per watched set"):
        RateCusumParams(watch="spread", rates=[0.2])
    with pytest.raises(ValidationError, match="takes no edges"):
        RateCusumParams(watch="rate", edges=[0.5])
    with pytest.raises(ValidationError, match="sum to 1"):
        RateCusumParams(watch="location", edges=[0.0], rates=[0.3, 0.3])


def test_calibration_sets_threshold_rates_and_edges_from_the_reference() -> None:
    rng = np.random.default_rng(0)
    bits = (rng.random(500) < 0.1).astype(float)
    rate = calibrated(RateCusumParams(watch="rate"), Reference.of(bits), 1e-6)
    assert isinstance(rate, RateCusumParams)
    assert rate.threshold == pytest.approx(math.log(1e6))
    assert rate.rates == [wilson_upper(int(bits.sum()), 500, 2.0)] and rate.rates[0] > bits.mean()
    values = rng.standard_t(3, size=500) * 1_000.0
    spread = calibrated(RateCusumParams(watch="spread"), Reference.of(values), 1e-6)
    assert isinstance(spread, RateCusumParams) and len(spread.edges) == 4 and spread.calibrated
    location = calibrated(RateCusumParams(watch="location"), Reference.of(np.repeat([0.0, 1.0], [450, 50])), 1e-6)
    assert isinstance(location, RateCusumParams) and len(location.rates) == len(location.edges) + 1


def test_nothing_seen_in_the_reference_still_gets_a_positive_rate() -> None:
    assert 0.0 < wilson_upper(0, 500, 2.0) < 0.01


def test_normal_scores_are_scale_free_and_bounded() -> None:
    rng = np.random.default_rng(1)
    reference = rng.lognormal(size=500)
    scored = ScoreTransform.of(reference)(reference * 1.0)
    assert abs(scored.mean()) < 0.1 and 0.9 < scored.std() < 1.1
    assert np.array_equal(ScoreTransform.of(reference * 1e6)(reference * 1e6), scored)
    assert np.abs(ScoreTransform.of(reference)(np.array([1e300, -1e300]))).max() < 4.0
