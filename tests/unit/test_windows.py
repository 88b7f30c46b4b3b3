"""Windowed statistics: PSI and KS tell a shifted window from a like one."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.stats import histogram, kolmogorov_survival, ks_two_sample, population_stability_index, quantile_edges
from detectors.windows import SignalWindows, WindowConfig


def test_kolmogorov_survival_matches_the_textbook_critical_value() -> None:
    assert kolmogorov_survival(1.358) == pytest.approx(0.05, abs=0.001)
    assert kolmogorov_survival(1.628) == pytest.approx(0.01, abs=0.0005)


def test_ks_finds_a_shift_and_not_a_resample() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(size=1000)
    assert ks_two_sample(reference, rng.normal(size=1000))[1] > 0.01
    d, p = ks_two_sample(reference, rng.normal(0.5, 1, size=1000))
    assert d > 0.15 and p < 1e-6


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(4)
    reference = rng.normal(size=5000)
    edges = quantile_edges(reference, 10)
    ref_counts = histogram(reference, edges)
    assert population_stability_index(ref_counts, histogram(rng.normal(size=5000), edges)) < 0.02
    assert population_stability_index(ref_counts, histogram(rng.normal(1, 1, size=5000), edges)) > 0.25


def test_histogram_counts_every_value_including_outliers() -> None:
    edges = np.array([0.0, 1.0])
    assert histogram(np.array([-5.0, 0.5, 0.5, 7.0]), edges).tolist() == [1, 2, 1]


def test_tumbling_windows_close_every_size_values_after_the_reference() -> None:
    windows = SignalWindows("feature:x", WindowConfig(reference_size=100, size=50, bins=5))
    values = np.random.default_rng(5).normal(size=300).astype(np.float32).astype(np.float64)
    closed = [s for i, v in enumerate(values.tolist()) if (s := windows.add(v, i, float(i)))]
    assert [(s.first_index, s.last_index, s.count) for s in closed] == [(100, 149, 50), (150, 199, 50),
                                                                       (200, 249, 50), (250, 299, 50)]
    assert all(sum(s.histogram) == 50 and len(s.histogram) == 5 for s in closed)
    assert closed[0].mean == pytest.approx(values[100:150].mean())
    assert closed[0].variance == pytest.approx(values[100:150].var(ddof=1))


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_window_close_agrees_with_the_numpy_statistics(seed: int) -> None:
    """close_window is the fast path of stats.py's functions: same bins, same D, same PSI and p-value
    up to rounding (it sums in another order), on ties and outliers as well as smooth data."""
    from detectors.kernels.window import close_window
    from detectors.kernels.window import kolmogorov_survival as compiled_survival

    rng = np.random.default_rng(seed)
    reference = np.round(rng.standard_t(3, size=400), seed % 3)  # seeds 0, 3: integers, many ties
    window = np.round(rng.standard_t(3, size=200) + 0.3 * seed, seed % 3).astype(np.float32)
    edges = quantile_edges(reference, 8)
    ref_counts = histogram(reference, edges)
    mean, variance, counts, psi, d, p = close_window(np.sort(reference), edges, ref_counts, window)
    current = window.astype(np.float64)
    expected_d, expected_p = ks_two_sample(reference, current)
    assert counts.tolist() == histogram(current, edges).tolist()
    assert d == expected_d
    assert p == pytest.approx(expected_p, rel=1e-9, abs=1e-15)
    assert psi == pytest.approx(population_stability_index(ref_counts, histogram(current, edges)), rel=1e-12)
    assert mean == pytest.approx(current.mean(), rel=1e-12)
    assert variance == pytest.approx(current.var(ddof=1), rel=1e-12)
    for x in (0.1, 0.5, 1.0, 1.358, 2.5):
        assert compiled_survival(x) == pytest.approx(kolmogorov_survival(x), rel=1e-12, abs=1e-300)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.floats(allow_nan=False, width=32), max_size=600))
def test_the_radix_sort_of_a_window_orders_as_numpy_does(values: list[float]) -> None:
    """Window closes sort by radix on the floats' bits: any float32 values (negatives, zeros of both
    signs, infinities, subnormals, ties) come out in np.sort's order."""
    from detectors.kernels.window import sorted_window

    window = np.array(values, dtype=np.float32)
    assert sorted_window(window).tolist() == np.sort(window.astype(np.float64)).tolist()
