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

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel, flag_of

if TYPE_CHECKING:
    from detectors.adwin import AdwinParams  # noqa: F401 (named as a string in the base class)

LEVELS = 64  # buckets of up to 2**63 values: more than any stream
# header slots
_DRIFT, _WARNING, _TOTAL, _VARIANCE, _WIDTH, _TOTAL_WIDTH, _N_BUCKETS, _MAX_N_BUCKETS, _TICK, _DETECTIONS, \
    _N_LEVELS = range(11)
_HEADER = 11
_COUNTS = _HEADER  # LEVELS counts, then LEVELS * slots totals, then as many variances


@njit(cache=True)
def _total_at(state: Any, slots: int, level: int, k: int) -> float:  # pragma: no cover (compiled)
    return float(state[_HEADER + LEVELS + level * slots + k])


@njit(cache=True)
def _variance_at(state: Any, slots: int, level: int, k: int) -> float:  # pragma: no cover (compiled)
    return float(state[_HEADER + LEVELS + LEVELS * slots + level * slots + k])


@njit(cache=True)
def _insert(state: Any, slots: int, level: int, total: float, variance: float) -> None:  # pragma: no cover
    k = int(state[_COUNTS + level])
    state[_HEADER + LEVELS + level * slots + k] = total
    state[_HEADER + LEVELS + LEVELS * slots + level * slots + k] = variance
    state[_COUNTS + level] = k + 1


@njit(cache=True)
def _compress(state: Any, slots: int, level: int, n_elements: int) -> None:  # pragma: no cover (compiled)
    current = int(state[_COUNTS + level])
    remaining = current - n_elements
    totals = _HEADER + LEVELS + level * slots
    variances = _HEADER + LEVELS + LEVELS * slots + level * slots
    for k in range(remaining):
        state[totals + k] = state[totals + n_elements + k]
        state[variances + k] = state[variances + n_elements + k]
    for k in range(remaining, current):
        state[totals + k] = 0.0
        state[variances + k] = 0.0
    state[_COUNTS + level] = remaining


@njit(cache=True)
def _compress_buckets(state: Any, slots: int, max_buckets: int) -> None:  # pragma: no cover (compiled)
    level = 0
    while True:
        if int(state[_COUNTS + level]) != max_buckets + 1:
            break
        n1 = float(1 << level)
        t0, t1 = _total_at(state, slots, level, 0), _total_at(state, slots, level, 1)
        v0, v1 = _variance_at(state, slots, level, 0), _variance_at(state, slots, level, 1)
        mu1 = t0 / n1
        mu2 = t1 / n1
        total12 = t0 + t1
        temp = n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2)
        v12 = v0 + v1 + temp
        if level + 1 >= int(state[_N_LEVELS]):
            state[_N_LEVELS] += 1.0  # the new level's slots are already zero
        _insert(state, slots, level + 1, total12, v12)
        state[_N_BUCKETS] += 1.0
        _compress(state, slots, level, 2)
        if int(state[_COUNTS + level + 1]) <= max_buckets:
            break
        level += 1


@njit(cache=True)
def _delete_element(state: Any, slots: int) -> None:  # pragma: no cover (compiled)
    last = int(state[_N_LEVELS]) - 1
    n = float(1 << last)
    u, v = _total_at(state, slots, last, 0), _variance_at(state, slots, last, 0)
    mu = u / n
    state[_WIDTH] -= n
    state[_TOTAL] -= u
    mu_window = state[_TOTAL] / state[_WIDTH]
    inc = v + n * state[_WIDTH] * (mu - mu_window) * (mu - mu_window) / (n + state[_WIDTH])
    state[_VARIANCE] -= inc
    _compress(state, slots, last, 1)
    state[_N_BUCKETS] -= 1.0
    if int(state[_COUNTS + last]) == 0:
        state[_N_LEVELS] -= 1.0


@njit(cache=True)
def _evaluate_cut(n0: float, n1: float, delta_mean: float, variance_per_width: float, delta_prime: float,
                  min_window_length: float) -> bool:  # pragma: no cover (compiled)
    """river's `evaluate_cut`, given the two terms that depend only on the window (same operations)."""
    m_recip = 1.0 / (n0 - min_window_length + 1.0) + 1.0 / (n1 - min_window_length + 1.0)
    epsilon = math.sqrt(2.0 * m_recip * variance_per_width * delta_prime) + 2.0 / 3.0 * delta_prime * m_recip
    return bool(abs(delta_mean) > epsilon)


@njit(cache=True)
def _detect_change(state: Any, slots: int, delta: float, clock: int, min_window_length: float,
                   grace_period: float) -> bool:  # pragma: no cover (compiled)
    change_detected = False
    state[_TICK] += 1.0
    if int(state[_TICK]) % clock == 0 and state[_WIDTH] > grace_period:
        reduce_width = True
        while reduce_width:
            reduce_width = False
            exit_flag = False
            n0 = 0.0
            n1 = state[_WIDTH]
            u0 = 0.0
            u1 = state[_TOTAL]
            deleted = False
            # river computes these per candidate cut; they change only when a bucket is deleted, which
            # ends this pass, so one evaluation per pass gives the same bits for far fewer logarithms
            width = state[_WIDTH]
            delta_prime = math.log(2.0 * math.log(width) / delta)
            variance_per_width = state[_VARIANCE] / width
            for level in range(int(state[_N_LEVELS]) - 1, -1, -1):
                if exit_flag or deleted:
                    break
                bucket_size = float(1 << level)
                current = int(state[_COUNTS + level])
                for k in range(current):
                    n0 += bucket_size
                    n1 -= bucket_size
                    total_at = _total_at(state, slots, level, k)
                    u0 += total_at
                    u1 -= total_at
                    if level == 0 and k == current - 1:
                        exit_flag = True
                        break
                    delta_mean = (u0 / n0) - (u1 / n1)
                    if n1 >= min_window_length and n0 >= min_window_length and _evaluate_cut(
                            n0, n1, delta_mean, variance_per_width, delta_prime, min_window_length):
                        reduce_width = True
                        change_detected = True
                        if state[_WIDTH] > 0.0:
                            _delete_element(state, slots)
                            deleted = True
                            break
    state[_TOTAL_WIDTH] += state[_WIDTH]
    if change_detected:
        state[_DETECTIONS] += 1.0
    return change_detected


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    delta, clock, max_buckets = params[0], int(params[1]), int(params[2])
    min_window_length, grace_period = params[3], params[4]
    slots = max_buckets + 1
    for i in range(values.shape[0]):
        if i == due:
            checkpoint[:] = state
            due += every
        x = values[i]
        if state[_DRIFT] != 0.0:  # river's ADWIN starts a fresh window after a drift
            state[:] = fresh
        _insert(state, slots, 0, x, 0.0)
        state[_N_BUCKETS] += 1.0
        if state[_N_BUCKETS] > state[_MAX_N_BUCKETS]:
            state[_MAX_N_BUCKETS] = state[_N_BUCKETS]
        state[_WIDTH] += 1.0
        incremental_variance = 0.0
        if state[_WIDTH] > 1.0:
            delta_v = x - state[_TOTAL] / (state[_WIDTH] - 1.0)
            incremental_variance = (state[_WIDTH] - 1.0) * delta_v * delta_v / state[_WIDTH]
        state[_VARIANCE] += incremental_variance
        state[_TOTAL] += x
        _compress_buckets(state, slots, max_buckets)
        drift = _detect_change(state, slots, delta, clock, min_window_length, grace_period)
        state[_DRIFT] = 1.0 if drift else 0.0
        flags[i] = flag_of(state)


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
        slots, levels = self.params.max_buckets + 1, int(state[_N_LEVELS])
        totals = _HEADER + LEVELS
        variances = totals + LEVELS * slots
        return np.concatenate([state[:_HEADER], state[_COUNTS : _COUNTS + levels],
                               state[totals : totals + levels * slots], state[variances : variances + levels * slots]])

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
