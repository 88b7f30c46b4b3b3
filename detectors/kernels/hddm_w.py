"""HDDM_W over a column of 0/1 errors, as river.drift.binary.HDDM_W does one value at a time.

>>> import random
>>> from detectors.kernels.hddm_w import HddmWKernel
>>> from detectors.hddm_w import HddmWParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> HddmWKernel(HddmWParams()).update_many(stream).drifts.tolist()
[1077]
"""

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel, flag_of

if TYPE_CHECKING:
    from detectors.hddm_w import HddmWParams  # noqa: F401 (named as a string in the base class)

# Five samples of three slots each (EWMA, initialised flag, bound coefficient), then the two cut points.
_DRIFT, _WARNING = 0, 1
_TOTAL, _S1_DECR, _S1_INCR, _S2_DECR, _S2_INCR = 2, 5, 8, 11, 14
_INCR_CUT, _DECR_CUT = 17, 18
_EWMA, _INIT, _IBC = 0, 1, 2  # offsets inside a sample
_STATE_SIZE = 19


@njit(cache=True)
def _new_sample(state: Any, at: int) -> None:  # pragma: no cover (compiled)
    state[at + _EWMA] = 0.0
    state[at + _INIT] = 0.0
    state[at + _IBC] = 1.0


@njit(cache=True)
def _update_sample(state: Any, at: int, x: float, lambd: float) -> None:  # pragma: no cover (compiled)
    if state[at + _INIT] == 0.0:  # river's EWMean (Rust) starts at the first value
        state[at + _EWMA] = x
    else:
        state[at + _EWMA] = lambd * x + (1.0 - lambd) * state[at + _EWMA]
    state[at + _INIT] = 1.0
    state[at + _IBC] = lambd * lambd + (1 - lambd) ** 2 * state[at + _IBC]


@njit(cache=True)
def _copy_sample(state: Any, source: int, target: int) -> None:  # pragma: no cover (compiled)
    for k in range(3):
        state[target + k] = state[source + k]


@njit(cache=True)
def _mcdiarmid_bound(ibc: float, confidence: float) -> float:  # pragma: no cover (compiled)
    return math.sqrt(ibc * math.log(1 / confidence) / 2)


@njit(cache=True)
def _changed(state: Any, first: int, second: int, confidence: float) -> bool:  # pragma: no cover (compiled)
    if not (state[first + _INIT] != 0.0 and state[second + _INIT] != 0.0):
        return False
    bound = _mcdiarmid_bound(state[first + _IBC] + state[second + _IBC], confidence)
    return bool(state[second + _EWMA] - state[first + _EWMA] > bound)


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    drift_confidence, warning_confidence, lambd, two_sided = params[0], params[1], params[2], params[3] != 0.0
    for i in range(values.shape[0]):
        if i == due:
            checkpoint[:] = state
            due += every
        x = values[i]
        if state[_DRIFT] != 0.0:
            state[:] = fresh
        _update_sample(state, _TOTAL, x, lambd)
        eps = _mcdiarmid_bound(state[_TOTAL + _IBC], drift_confidence)
        if state[_TOTAL + _EWMA] + eps < state[_INCR_CUT]:
            state[_INCR_CUT] = state[_TOTAL + _EWMA] + eps
            _copy_sample(state, _TOTAL, _S1_INCR)
            _new_sample(state, _S2_INCR)
        else:
            _update_sample(state, _S2_INCR, x, lambd)
        if _changed(state, _S1_INCR, _S2_INCR, drift_confidence):
            state[_WARNING], state[_DRIFT] = 0.0, 1.0
        elif _changed(state, _S1_INCR, _S2_INCR, warning_confidence):
            state[_WARNING], state[_DRIFT] = 1.0, 0.0
        else:
            state[_WARNING], state[_DRIFT] = 0.0, 0.0
        eps = _mcdiarmid_bound(state[_TOTAL + _IBC], drift_confidence)
        if state[_TOTAL + _EWMA] - eps > state[_DECR_CUT]:
            state[_DECR_CUT] = state[_TOTAL + _EWMA] - eps
            _copy_sample(state, _TOTAL, _S1_DECR)
            _new_sample(state, _S2_DECR)
        else:
            _update_sample(state, _S2_DECR, x, lambd)
        if two_sided:
            if _changed(state, _S2_DECR, _S1_DECR, drift_confidence):
                state[_DRIFT] = 1.0
            elif _changed(state, _S2_DECR, _S1_DECR, warning_confidence):
                state[_WARNING] = 1.0
        flags[i] = flag_of(state)


class HddmWKernel(Kernel["HddmWParams"]):
    name = "hddm_w"
    compiled = staticmethod(_update_many)

    def _param_values(self) -> list[float]:
        p = self.params
        return [p.drift_confidence, p.warning_confidence, p.lambda_val, 1.0 if p.two_sided_test else 0.0]

    def fresh_state(self) -> Floats:
        state = np.zeros(_STATE_SIZE, dtype=np.float64)
        for sample in (_TOTAL, _S1_DECR, _S1_INCR, _S2_DECR, _S2_INCR):
            state[sample + _IBC] = 1.0
        state[_INCR_CUT] = np.inf
        state[_DECR_CUT] = -np.inf
        return state

    def statistics_of(self, state: Floats) -> dict[str, float]:
        return {"ewma": float(state[_TOTAL + _EWMA])}
