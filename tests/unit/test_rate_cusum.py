"""The rate CUSUM kernel against a plain Python reading of its definition, and its calibration."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from detectors.calibration import Reference, ScoreTransform, calibrated
from detectors.rate_cusum import RateCusum, RateCusumParams
from detectors.stats import wilson_upper


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
    RateCusumParams(watch="scale", edges=[-1.0, 0.0, 1.0], rates=[0.15, 0.35, 0.35, 0.15], threshold=4.0),
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
    assert rate.threshold == pytest.approx(math.log(len(rate.odds_ratios) / 1e-6))  # the bank shares the rate
    assert rate.counts == [500 - bits.sum(), bits.sum()] and rate.rates == [bits.mean()]
    rows = rate.increment_rows()  # each compared with the counted rate's upper Wilson bound, not the rate itself
    p1 = 2.0 * wilson_upper(bits.sum(), 500, 2.0) / (1.0 - wilson_upper(bits.sum(), 500, 2.0) * (1.0 - 2.0))
    assert rows[rate.odds_ratios.index(2.0)][1] == pytest.approx(math.log(p1 / wilson_upper(bits.sum(), 500, 2.0)))
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


def _first_drift(params: RateCusumParams, values: np.ndarray) -> int | None:
    drifts = RateCusum(params).update_many(values).drifts.tolist()
    return drifts[0] if drifts else None


def test_the_bank_finds_a_rise_below_any_single_alternative_that_a_doubling_cusum_never_finds() -> None:
    rng = np.random.default_rng(5)
    reference = (rng.random(50_000) < 0.05).astype(float)
    risen = (rng.random(40_000) < 0.065).astype(float)  # 1.3x: a doubling's statistic drifts down
    bank = calibrated(RateCusumParams(watch="rate"), Reference.of(reference), 1e-6)
    single = calibrated(RateCusumParams(watch="rate", odds_ratio=2.0), Reference.of(reference), 1e-6)
    assert isinstance(bank, RateCusumParams) and isinstance(single, RateCusumParams)
    assert _first_drift(bank, reference) is None and _first_drift(single, reference) is None
    found = _first_drift(bank, risen)
    assert found is not None
    assert _first_drift(single, risen) is None


def test_both_directions_find_a_share_falling_and_up_only_does_not() -> None:
    rng = np.random.default_rng(6)
    before, after = [0.5, 0.3, 0.1, 0.1], [0.54, 0.35, 0.01, 0.1]  # the third category almost vanishes
    reference = rng.choice(4, size=2_000, p=before).astype(float)
    later = rng.choice(4, size=3_000, p=after).astype(float)
    both = calibrated(RateCusumParams(watch="categories", direction="both"), Reference.of(reference), 1e-6)
    up = calibrated(RateCusumParams(watch="categories"), Reference.of(reference), 1e-6)
    assert isinstance(both, RateCusumParams) and isinstance(up, RateCusumParams)
    found = _first_drift(both, later)
    assert found is not None and found < 500
    assert both.statistics_count() == 2 * up.statistics_count()
    assert _first_drift(both, rng.choice(4, size=20_000, p=before).astype(float)) is None


def test_an_autocorrelated_reference_divides_the_increments_and_keeps_the_bound() -> None:
    rng = np.random.default_rng(8)

    def ar1(n: int, phi: float) -> np.ndarray:
        noise, x = rng.normal(size=n) * math.sqrt(1 - phi * phi), np.empty(n)
        x[0] = rng.normal()
        for i in range(1, n):
            x[i] = phi * x[i - 1] + noise[i]
        return x

    independent = calibrated(RateCusumParams(watch="location"), Reference.of(rng.normal(size=500)), 1e-6)
    assert isinstance(independent, RateCusumParams) and independent.dependence < 1.5
    stream = ar1(200_500, 0.8)
    dependent = calibrated(RateCusumParams(watch="location"), Reference.of(stream[:500]), 1e-6)
    assert isinstance(dependent, RateCusumParams) and dependent.dependence > 5.0
    assert _first_drift(dependent, stream[500:]) is None
    assert _first_drift(dependent, stream[500:5_500] + 1.0) is not None


def test_a_chunk_unlike_the_reference_does_not_fit_it() -> None:
    rng = np.random.default_rng(9)
    params = calibrated(RateCusumParams(watch="location"), Reference.of(rng.normal(size=2_000)), 1e-6)
    assert isinstance(params, RateCusumParams)

    def chunk(values: np.ndarray) -> list[float]:
        cells = np.searchsorted(np.asarray(params.edges), values, side="right")
        return np.bincount(cells, minlength=params.cell_count()).astype(float).tolist()

    fits = [params.fits_reference(chunk(rng.normal(size=500))) for _ in range(50)]
    assert sum(fits) >= 48
    assert not params.fits_reference(chunk(rng.normal(size=500) + 0.4))
    grown = params.absorb(chunk(rng.normal(size=500)))
    assert grown.reference_size == 2_500 and grown.edges == params.edges and grown.threshold == params.threshold


def test_the_scale_bank_finds_a_spread_narrowing_sooner_than_the_spread_sets_and_stays_quiet_without_one() -> None:
    rng = np.random.default_rng(10)
    reference = rng.normal(size=20_000)
    narrower = rng.normal(size=6_000) * 0.85
    scale = calibrated(RateCusumParams(watch="scale"), Reference.of(reference), 1e-6)
    spread = calibrated(RateCusumParams(watch="spread"), Reference.of(reference), 1e-6)
    assert isinstance(scale, RateCusumParams) and isinstance(spread, RateCusumParams)
    assert scale.statistics_count() == len(scale.scales) and scale.cell_count() == len(scale.edges) + 1
    found = _first_drift(scale, narrower)
    assert found is not None
    slower = _first_drift(spread, narrower)
    assert slower is None or slower > found
    assert _first_drift(scale, rng.normal(size=100_000)) is None
    assert _first_drift(scale, rng.standard_t(3, size=50_000)) is not None  # heavier tails are a change too


def test_a_constant_reference_calibrates_and_any_other_value_is_a_drift() -> None:
    """Its outer cells' normal scores are in the hundreds: the tilts must not overflow."""
    for watch in ("location", "scale"):  # (spread's two sets hold a constant's every value: it cannot tell)
        params = calibrated(RateCusumParams(watch=watch), Reference.of(np.ones(20_000)), 1e-6)  # type: ignore[arg-type]
        assert isinstance(params, RateCusumParams) and all(math.isfinite(x) for r in params.increment_rows() for x in r)
        assert _first_drift(params, np.ones(10_000)) is None
        assert _first_drift(params, np.r_[np.ones(100), np.full(20, 2.0)]) is not None, watch
