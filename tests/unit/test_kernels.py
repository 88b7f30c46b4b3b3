"""The compiled kernels against river, the oracle: the same drift and warning flags at every value and
the same statistics, bit for bit, on random streams, whatever the column is split into."""

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from river import drift
from river.drift import binary

from detectors.adwin import AdwinParams
from detectors.base import DRIFT, NONE, WARNING
from detectors.ddm import DdmParams
from detectors.eddm import EddmParams
from detectors.hddm_a import HddmAParams
from detectors.hddm_w import HddmWParams
from detectors.kernels.adwin import AdwinKernel
from detectors.kernels.base import Kernel
from detectors.kernels.ddm import DdmKernel
from detectors.kernels.eddm import EddmKernel
from detectors.kernels.hddm_a import HddmAKernel
from detectors.kernels.hddm_w import HddmWKernel
from detectors.kernels.page_hinkley import PageHinkleyKernel
from detectors.page_hinkley import PageHinkleyParams


def river_flags(detector: Any, values: list[float]) -> list[int]:
    flags = []
    for x in values:
        detector.update(x)
        if detector.drift_detected:
            flags.append(DRIFT)
        elif getattr(detector, "warning_detected", False):
            flags.append(WARNING)
        else:
            flags.append(NONE)
    return flags


def kernel_flags(kernel: Kernel[Any], values: list[float], cuts: list[int]) -> list[int]:
    """The column fed in pieces, cut at `cuts`: state must carry across calls."""
    flags: list[int] = []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(values)), len(values)]
    for start, end in itertools.pairwise(bounds):
        flags += kernel.update_many(values[start:end]).flags.tolist()
    return flags


def same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


cuts = st.lists(st.integers(min_value=1, max_value=600), max_size=4)


def regimes(element: st.SearchStrategy[float]) -> st.SearchStrategy[list[float]]:
    """One to three stretches, so drifts happen and detectors reset mid-column."""
    return st.lists(st.lists(element, min_size=1, max_size=300), min_size=1, max_size=3).map(
        lambda parts: [x for part in parts for x in part])


error_streams = st.lists(
    st.tuples(st.sampled_from([0.05, 0.1, 0.3, 0.5, 0.7, 0.9]), st.lists(st.floats(0, 1), min_size=20, max_size=250)),
    min_size=1, max_size=3).map(lambda parts: [1.0 if u < rate else 0.0 for rate, draws in parts for u in draws])
"""0/1 errors in one to three stretches of different error rates."""

# Page-Hinkley sees raw values: any scale, with shifts.
values = regimes(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-5, 5).map(float),
                           st.floats(-1, 1, allow_nan=False)))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(values, cuts, st.integers(1, 40), st.floats(0.1, 100), st.sampled_from(["up", "down", "both"]))
def test_page_hinkley_kernel_equals_river(stream: list[float], cut: list[int], min_instances: int, threshold: float,
                                          mode: str) -> None:
    params = PageHinkleyParams(min_instances=min_instances, threshold=threshold, mode=mode)  # type: ignore[arg-type]
    oracle = drift.PageHinkley(min_instances=min_instances, threshold=threshold, mode=mode)
    kernel = PageHinkleyKernel(params)
    assert kernel_flags(kernel, stream, cut) == river_flags(oracle, stream)
    stats = kernel.statistics()
    assert stats["mean"] == oracle._x_mean.get() and stats["n"] == oracle._x_mean.n
    assert same_number(stats["test_increase"], oracle._sum_increase - oracle._min_increase)
    assert same_number(stats["test_decrease"], oracle._max_decrease - oracle._sum_decrease)


def check_binary(kernel: Kernel[Any], oracle: Any, stream: list[float], cut: list[int],
                 statistics: Callable[[Any], dict[str, float]]) -> None:
    assert kernel_flags(kernel, stream, cut) == river_flags(oracle, stream)
    expected = {k: float(v) for k, v in statistics(oracle).items() if v is not None and math.isfinite(v)}
    assert kernel.statistics() == expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(error_streams, cuts, st.integers(1, 60), st.floats(1.0, 3.0), st.floats(0.0, 2.0))
def test_ddm_kernel_equals_river(stream: list[float], cut: list[int], warm_start: int, warning: float,
                                 extra: float) -> None:
    params = DdmParams(warm_start=warm_start, warning_threshold=warning, drift_threshold=warning + extra + 0.01)
    oracle = binary.DDM(warm_start=warm_start, warning_threshold=params.warning_threshold,
                        drift_threshold=params.drift_threshold)
    check_binary(DdmKernel(params), oracle, stream, cut, lambda r: {
        "error_rate": r._p.get(), "n": r._p.n, "p_min": r._p_min, "s_min": r._s_min})


@settings(max_examples=150, deadline=None, derandomize=True)
@given(error_streams, cuts, st.integers(1, 60), st.floats(0.5, 0.99), st.floats(0.01, 0.4))
def test_eddm_kernel_equals_river(stream: list[float], cut: list[int], warm_start: int, alpha: float,
                                  gap: float) -> None:
    beta = max(0.01, alpha - gap)
    oracle = binary.EDDM(warm_start=warm_start, alpha=alpha, beta=beta)
    check_binary(EddmKernel(EddmParams(warm_start=warm_start, alpha=alpha, beta=beta)), oracle, stream, cut,
                 lambda r: {"n": r._n, "mean_error_distance": r._error_distances.mean.get()})


@settings(max_examples=150, deadline=None, derandomize=True)
@given(error_streams, cuts, st.floats(1e-4, 0.05), st.floats(1.0, 10.0), st.booleans())
def test_hddm_a_kernel_equals_river(stream: list[float], cut: list[int], drift_confidence: float, ratio: float,
                                    two_sided: bool) -> None:
    warning_confidence = min(0.5, drift_confidence * ratio)
    oracle = binary.HDDMA(drift_confidence=drift_confidence, warning_confidence=warning_confidence,
                           two_sided_test=two_sided)
    params = HddmAParams(drift_confidence=drift_confidence, warning_confidence=warning_confidence,
                         two_sided_test=two_sided)
    check_binary(HddmAKernel(params), oracle, stream, cut, lambda r: {"mean": r._z.get(), "n": r._z.n})


@settings(max_examples=150, deadline=None, derandomize=True)
@given(error_streams, cuts, st.floats(1e-4, 0.05), st.floats(1.0, 10.0), st.floats(0.01, 1.0), st.booleans())
def test_hddm_w_kernel_equals_river(stream: list[float], cut: list[int], drift_confidence: float, ratio: float,
                                    lambda_val: float, two_sided: bool) -> None:
    warning_confidence = min(0.5, drift_confidence * ratio)
    oracle = binary.HDDMW(drift_confidence=drift_confidence, warning_confidence=warning_confidence,
                           lambda_val=lambda_val, two_sided_test=two_sided)
    params = HddmWParams(drift_confidence=drift_confidence, warning_confidence=warning_confidence,
                         lambda_val=lambda_val, two_sided_test=two_sided)
    check_binary(HddmWKernel(params), oracle, stream, cut, lambda r: {"ewma": r._total.ewma})


def test_a_kernel_reset_forgets_everything() -> None:
    kernel = DdmKernel(DdmParams())
    kernel.update_many(np.ones(100))
    kernel.reset()
    assert np.array_equal(kernel.state, DdmKernel(DdmParams()).state, equal_nan=True)
    assert not kernel.drift_detected and not kernel.warning_detected


def adwin_statistics(r: Any) -> dict[str, float]:
    return {"width": r.width, "mean": r.estimation, "variance": r.variance, "detections": r.n_detections}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(values, cuts, st.floats(1e-4, 0.5), st.integers(1, 40), st.integers(2, 8), st.integers(1, 20),
       st.integers(1, 40))
def test_adwin_kernel_equals_river(stream: list[float], cut: list[int], delta: float, clock: int, max_buckets: int,
                                   min_window_length: int, grace_period: int) -> None:
    params = AdwinParams(delta=delta, clock=clock, max_buckets=max_buckets, min_window_length=min_window_length,
                         grace_period=grace_period)
    oracle = drift.ADWIN(delta=delta, clock=clock, max_buckets=max_buckets, min_window_length=min_window_length,
                         grace_period=grace_period)
    check_binary(AdwinKernel(params), oracle, stream, cut, adwin_statistics)


def test_adwin_kernel_equals_river_over_a_long_stream_with_many_levels_and_drifts() -> None:
    rng = np.random.default_rng(3)
    stream = np.concatenate([rng.normal(mean, 1.0, 40_000) for mean in (0.0, 0.3, 0.3, -1.0, 2.0)]).tolist()
    assert river_flags(drift.ADWIN(), stream).count(DRIFT) >= 3, "the stream exercises drifts and resets"
    check_binary(AdwinKernel(AdwinParams()), drift.ADWIN(), stream, [1, 5_000, 77_777], adwin_statistics)
