"""ADWIN over a column, as river.drift.ADWIN (its Rust AdaptiveWindowing) does one value at a time.

The exponential histogram lives in the state array: for each level i (buckets of 2**i values) a
count and up to `max_buckets + 1` totals and variances. The arithmetic follows river's
`rust_src/adwin.rs` line by line, including the order of every floating-point operation, and
river's Python wrapper, which starts a fresh window on the update after a drift.

>>> import random
>>> from detectors.kernels.adwin import AdwinKernel
>>> from detectors.adwin import AdwinParams
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> AdwinKernel(AdwinParams()).update_many(stream).drifts.tolist()
[1023]
"""

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from numba import njit

from detectors.base import DRIFT, NONE, WARNING, Floats
from detectors.kernels.base import Kernel

if TYPE_CHECKING:
    from detectors.adwin import AdwinParams  # noqa: F401 (named as a string in the base class)

LEVELS = 64  # buckets of up to 2**63 values: more than any stream
# header slots
_DRIFT, _WARNING, _TOTAL, _VARIANCE, _WIDTH, _TOTAL_WIDTH, _N_BUCKETS, _MAX_N_BUCKETS, _TICK, _DETECTIONS, \
    _N_LEVELS = range(11)
_HEADER = 11
_COUNTS = _HEADER  # LEVELS counts, then LEVELS * slots totals, then as many variances


@njit(cache=True, error_model="numpy")
def _merge_full_levels(counts: Any, totals: Any, variances: Any, slots: int,
                       n_levels: int) -> tuple[int, int]:  # pragma: no cover (compiled)
    """river's `compress_buckets`: while a level holds `max_buckets + 1` buckets, its two oldest merge into
    one of the next level. Returns the new level count and how many buckets the merges added (one each)."""
    merges = 0
    level = 0
    while int(counts[level]) == slots:
        n1 = float(1 << level)
        row = level * slots
        t0, t1 = totals[row], totals[row + 1]
        mu1 = t0 / n1
        mu2 = t1 / n1
        total12 = t0 + t1
        temp = n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2)
        v12 = variances[row] + variances[row + 1] + temp
        if level + 1 >= n_levels:
            n_levels += 1  # the new level's slots are already zero
        up = (level + 1) * slots
        k = int(counts[level + 1])
        totals[up + k] = total12
        variances[up + k] = v12
        counts[level + 1] = k + 1
        merges += 1
        for j in range(slots - 2):  # drop the two merged buckets: river pops them from the front
            totals[row + j] = totals[row + j + 2]
            variances[row + j] = variances[row + j + 2]
        totals[row + slots - 2] = totals[row + slots - 1] = 0.0
        variances[row + slots - 2] = variances[row + slots - 1] = 0.0
        counts[level] = slots - 2
        level += 1
    return n_levels, merges


@njit(cache=True, error_model="numpy")
def _delete_oldest(counts: Any, totals: Any, variances: Any, slots: int, n_levels: int, width: float, total: float,
                   variance: float) -> tuple[int, float, float, float]:  # pragma: no cover (compiled)
    """river's `delete_element`: the oldest bucket leaves the window. Returns the level count, width, total
    and variance after it."""
    last = n_levels - 1
    n = float(1 << last)
    row = last * slots
    u, v = totals[row], variances[row]
    mu = u / n
    width -= n
    total -= u
    mu_window = total / width
    inc = v + n * width * (mu - mu_window) * (mu - mu_window) / (n + width)
    variance -= inc
    current = int(counts[last])
    for j in range(current - 1):
        totals[row + j] = totals[row + j + 1]
        variances[row + j] = variances[row + j + 1]
    totals[row + current - 1] = 0.0
    variances[row + current - 1] = 0.0
    counts[last] = current - 1
    if current - 1 == 0:
        n_levels -= 1
    return n_levels, width, total, variance


@njit(cache=True, error_model="numpy")
def _first_cut(counts: Any, totals: Any, slots: int, n_levels: int, width: float, total: float, variance: float,
               delta: float, min_window_length: float, scratch: Any) -> bool:  # pragma: no cover (compiled)
    """Whether river's `detect_change` pass finds a cut anywhere in the window (it stops at the first).

    river walks the buckets oldest first, keeping running sizes and totals of the two sides, and tests
    each cut as it goes. Here the running sums are taken first, in river's order of additions, and the
    tests then run over them in a loop free of dependencies, which the compiler turns into vector
    instructions: the same operations on the same numbers, so the same bits; a pass finds a cut rarely,
    so testing every cut rather than stopping at the first costs nothing in the common case."""
    n0s, n1s, u0s, u1s = scratch[0], scratch[1], scratch[2], scratch[3]
    n0, n1, u0, u1 = 0.0, width, 0.0, total
    m = 0
    for level in range(n_levels - 1, -1, -1):
        bucket_size = float(1 << level)
        current = int(counts[level])
        row = level * slots
        for k in range(current):
            n0 += bucket_size
            n1 -= bucket_size
            t = totals[row + k]
            u0 += t
            u1 -= t
            if level == 0 and k == current - 1:
                break
            n0s[m], n1s[m], u0s[m], u1s[m] = n0, n1, u0, u1
            m += 1
    # river computes these per candidate cut; they change only when a bucket is deleted, which ends
    # the pass, so one evaluation per pass gives the same bits
    delta_prime = math.log(2.0 * math.log(width) / delta)
    variance_per_width = variance / width
    found = 0
    for j in range(m):
        a, b = n0s[j], n1s[j]
        delta_mean = (u0s[j] / a) - (u1s[j] / b)
        m_recip = 1.0 / (a - min_window_length + 1.0) + 1.0 / (b - min_window_length + 1.0)
        epsilon = math.sqrt(2.0 * m_recip * variance_per_width * delta_prime) + 2.0 / 3.0 * delta_prime * m_recip
        found += (b >= min_window_length) & (a >= min_window_length) & (abs(delta_mean) > epsilon)
    return found > 0


@njit(cache=True, error_model="numpy")
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    """river's `update` over a column. The window's running numbers live in locals through the loop and
    go back to the state array when a checkpoint is due and at the end: kept in the array, every one
    was a load and a store per value."""
    delta, clock, max_buckets = params[0], int(params[1]), int(params[2])
    min_window_length, grace_period = params[3], params[4]
    slots = max_buckets + 1
    totals_at = _HEADER + LEVELS
    counts = state[_COUNTS : _COUNTS + LEVELS]
    totals = state[totals_at : totals_at + LEVELS * slots]
    variances = state[totals_at + LEVELS * slots : totals_at + 2 * LEVELS * slots]
    scratch = np.empty((4, LEVELS * slots))
    drift, warning, total, variance, width, total_width, n_buckets, max_n_buckets, tick, detections, n_levels = \
        _take_header(state)
    for i in range(values.shape[0]):
        if i == due:
            _put_header(state, drift, warning, total, variance, width, total_width, n_buckets, max_n_buckets,
                        tick, detections, n_levels)
            checkpoint[:] = state
            due += every
        x = values[i]
        if drift != 0.0:  # river's ADWIN starts a fresh window after a drift
            state[:] = fresh
            drift, warning, total, variance, width, total_width, n_buckets, max_n_buckets, tick, detections, \
                n_levels = _take_header(state)
        k = int(counts[0])
        totals[k] = x
        variances[k] = 0.0
        counts[0] = k + 1
        n_buckets += 1.0
        if n_buckets > max_n_buckets:
            max_n_buckets = n_buckets
        width += 1.0
        incremental_variance = 0.0
        if width > 1.0:
            delta_v = x - total / (width - 1.0)
            incremental_variance = (width - 1.0) * delta_v * delta_v / width
        variance += incremental_variance
        total += x
        if k + 1 == slots:
            n_levels, merges = _merge_full_levels(counts, totals, variances, slots, n_levels)
            n_buckets += merges
        change_detected = False
        tick += 1
        if tick % clock == 0 and width > grace_period:
            while _first_cut(counts, totals, slots, n_levels, width, total, variance, delta, min_window_length,
                             scratch):
                change_detected = True
                if width <= 0.0:
                    break
                n_levels, width, total, variance = _delete_oldest(counts, totals, variances, slots, n_levels, width,
                                                                  total, variance)
                n_buckets -= 1.0
        total_width += width
        if change_detected:
            detections += 1.0
        drift = 1.0 if change_detected else 0.0
        flags[i] = DRIFT if drift != 0.0 else (WARNING if warning != 0.0 else NONE)
    _put_header(state, drift, warning, total, variance, width, total_width, n_buckets, max_n_buckets, tick,
                detections, n_levels)


@njit(cache=True)
def _take_header(state: Any) -> tuple[float, float, float, float, float, float, float, float, int, float,
                                      int]:  # pragma: no cover (compiled)
    """The header's numbers, in `_put_header`'s order, for the update loop to keep in locals."""
    return (state[_DRIFT], state[_WARNING], state[_TOTAL], state[_VARIANCE], state[_WIDTH], state[_TOTAL_WIDTH],
            state[_N_BUCKETS], state[_MAX_N_BUCKETS], int(state[_TICK]), state[_DETECTIONS], int(state[_N_LEVELS]))


@njit(cache=True)
def _put_header(state: Any, drift: float, warning: float, total: float, variance: float, width: float,
                total_width: float, n_buckets: float, max_n_buckets: float, tick: int, detections: float,
                n_levels: int) -> None:  # pragma: no cover (compiled)
    state[_DRIFT], state[_WARNING], state[_TOTAL], state[_VARIANCE] = drift, warning, total, variance
    state[_WIDTH], state[_TOTAL_WIDTH], state[_N_BUCKETS], state[_MAX_N_BUCKETS] = width, total_width, n_buckets, \
        max_n_buckets
    state[_TICK], state[_DETECTIONS], state[_N_LEVELS] = float(tick), detections, float(n_levels)


@functools.cache
def _kept(slots: int, levels: int) -> "npt.NDArray[np.intp]":
    """Where the numbers `AdwinKernel.compact` keeps lie, with `levels` levels of `slots` buckets in use:
    one gather instead of four slices and a concatenation (every touched model's detectors are saved
    every batch)."""
    totals = _HEADER + LEVELS
    variances = totals + LEVELS * slots
    return np.concatenate([np.arange(_HEADER), np.arange(_COUNTS, _COUNTS + levels),
                           np.arange(totals, totals + levels * slots),
                           np.arange(variances, variances + levels * slots)])


class AdwinKernel(Kernel["AdwinParams"]):
    name = "adwin"
    compiled = staticmethod(_update_many)

    def _param_values(self) -> list[float]:
        p = self.params
        return [p.delta, float(p.clock), float(p.max_buckets), float(p.min_window_length), float(p.grace_period)]

    def fresh_state(self) -> Floats:
        state = np.zeros(_HEADER + LEVELS + 2 * LEVELS * (self.params.max_buckets + 1), dtype=np.float64)
        state[_N_LEVELS] = 1.0
        return state

    def compact(self, state: Floats) -> Floats:
        """The header and the levels in use: a window of a million values uses about 20 of the 64
        levels, and the unused ones (always zeros) were 90% of a snapshot's bytes and zlib time."""
        return state[_kept(self.params.max_buckets + 1, int(state[_N_LEVELS]))]

    def expand(self, numbers: Floats, start: int) -> tuple[Floats, int]:
        slots = self.params.max_buckets + 1
        if numbers.size - start < _HEADER:
            raise ValueError("adwin state is cut short")
        levels = numbers[start + _N_LEVELS]
        if not (levels == int(levels) and 1 <= levels <= LEVELS):
            raise ValueError(f"adwin state claims {levels} levels")
        used = int(levels)
        end = start + _HEADER + used + 2 * used * slots
        if end > numbers.size:
            raise ValueError("adwin state is cut short")
        state = self.fresh_state()
        totals = _HEADER + LEVELS
        variances = totals + LEVELS * slots
        k = start + _HEADER
        state[:_HEADER] = numbers[start:k]
        state[_COUNTS : _COUNTS + used] = numbers[k : k + used]
        k += used
        state[totals : totals + used * slots] = numbers[k : k + used * slots]
        k += used * slots
        state[variances : variances + used * slots] = numbers[k : k + used * slots]
        return state, end

    def statistics_of(self, state: Floats) -> dict[str, float]:
        width = float(state[_WIDTH])
        return {"width": width, "mean": float(state[_TOTAL]) / width if width else 0.0,
                "variance": float(state[_VARIANCE]), "detections": float(state[_DETECTIONS])}
