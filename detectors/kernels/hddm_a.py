"""HDDM_A over a column of 0/1 errors, as river.drift.binary.HDDM_A does one value at a time.

>>> import random
>>> from detectors.kernels.hddm_a import HddmAKernel
>>> from detectors.hddm_a import HddmAParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> HddmAKernel(HddmAParams()).update_many(stream).drifts.tolist()
[1206]
"""

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel, flag_of

if TYPE_CHECKING:
    from detectors.hddm_a import HddmAParams  # noqa: F401 (named as a string in the base class)

# three running means (n, mean): the whole stream z, and the copies of it taken at its minimum and maximum
_DRIFT, _WARNING, _Z_N, _Z_MEAN, _MIN_N, _MIN_MEAN, _MAX_N, _MAX_MEAN = range(8)


@njit(cache=True)
def _hoeffding_bound(n: float, drift_confidence: float) -> float:  # pragma: no cover (compiled)
    return math.sqrt(1.0 / (2 * n) * math.log(1.0 / drift_confidence))


@njit(cache=True)
def _changed(n_from: float, mean_from: float, n_z: float, mean_z: float, confidence: float,
             increase: bool) -> bool:  # pragma: no cover (compiled)
    if n_from == n_z:
        return False
    m = (n_z - n_from) / n_from * (1.0 / n_z)
    eps = math.sqrt(m / 2 * math.log(2.0 / confidence))
    return (mean_z - mean_from >= eps) if increase else (mean_from - mean_z >= eps)


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    drift_confidence, warning_confidence, two_sided = params[0], params[1], params[2] != 0.0
    for i in range(values.shape[0]):
        if i == due:
            checkpoint[:] = state
            due += every
        x = values[i]
        if state[_DRIFT] != 0.0:
            state[:] = fresh
        state[_Z_N] += 1.0
        state[_Z_MEAN] += (1.0 / state[_Z_N]) * (x - state[_Z_MEAN])
        if state[_MIN_N] == 0.0:
            state[_MIN_N], state[_MIN_MEAN] = state[_Z_N], state[_Z_MEAN]
        if state[_MAX_N] == 0.0:
            state[_MAX_N], state[_MAX_MEAN] = state[_Z_N], state[_Z_MEAN]
        eps_z = _hoeffding_bound(state[_Z_N], drift_confidence)
        eps_x = _hoeffding_bound(state[_MIN_N], drift_confidence)
        if state[_MIN_MEAN] + eps_x >= state[_Z_MEAN] + eps_z:
            state[_MIN_N], state[_MIN_MEAN] = state[_Z_N], state[_Z_MEAN]
        eps_x = _hoeffding_bound(state[_MAX_N], drift_confidence)
        if state[_MAX_MEAN] - eps_x <= state[_Z_MEAN] - eps_z:
            state[_MAX_N], state[_MAX_MEAN] = state[_Z_N], state[_Z_MEAN]
        z_n, z_mean = state[_Z_N], state[_Z_MEAN]
        if _changed(state[_MIN_N], state[_MIN_MEAN], z_n, z_mean, drift_confidence, True):
            state[_WARNING], state[_DRIFT] = 0.0, 1.0
        elif _changed(state[_MIN_N], state[_MIN_MEAN], z_n, z_mean, warning_confidence, True):
            state[_WARNING], state[_DRIFT] = 1.0, 0.0
        else:
            state[_WARNING], state[_DRIFT] = 0.0, 0.0
        if two_sided:
            if _changed(state[_MAX_N], state[_MAX_MEAN], z_n, z_mean, drift_confidence, False):
                state[_DRIFT] = 1.0
            elif _changed(state[_MAX_N], state[_MAX_MEAN], z_n, z_mean, warning_confidence, False):
                state[_WARNING] = 1.0
        flags[i] = flag_of(state)


class HddmAKernel(Kernel["HddmAParams"]):
    name = "hddm_a"
    compiled = staticmethod(_update_many)

    def _param_values(self) -> list[float]:
        p = self.params
        return [p.drift_confidence, p.warning_confidence, 1.0 if p.two_sided_test else 0.0]

    def fresh_state(self) -> Floats:
        return np.zeros(8, dtype=np.float64)

    def statistics_of(self, state: Floats) -> dict[str, float]:
        return {"mean": float(state[_Z_MEAN]), "n": float(state[_Z_N])}
