"""DDM over a column of 0/1 errors, as river.drift.binary.DDM does one value at a time.

>>> import random
>>> from detectors.kernels.ddm import DdmKernel
>>> from detectors.ddm import DdmParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> DdmKernel(DdmParams()).update_many(stream).drifts.tolist()
[1334]
"""

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel, flag_of

if TYPE_CHECKING:
    from detectors.ddm import DdmParams  # noqa: F401 (named as a string in the base class)

_DRIFT, _WARNING, _N, _P, _P_MIN, _S_MIN, _PS_MIN = range(7)


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    warm_start, warning_threshold, drift_threshold = params[0], params[1], params[2]
    for i in range(values.shape[0]):
        if i == due:
            checkpoint[:] = state
            due += every
        x = values[i]
        if state[_DRIFT] != 0.0:
            state[:] = fresh
        state[_N] += 1.0
        state[_P] += (1.0 / state[_N]) * (x - state[_P])
        p_i = state[_P]
        n = state[_N]
        s_i = math.sqrt(p_i * (1 - p_i) / n)
        if n > warm_start:
            if p_i + s_i <= state[_PS_MIN]:
                state[_P_MIN] = p_i
                state[_S_MIN] = s_i
                state[_PS_MIN] = state[_P_MIN] + state[_S_MIN]
            if p_i + s_i > state[_P_MIN] + warning_threshold * state[_S_MIN]:
                state[_WARNING] = 1.0
            else:
                state[_WARNING] = 0.0
            if p_i + s_i > state[_P_MIN] + drift_threshold * state[_S_MIN]:
                state[_DRIFT] = 1.0
                state[_WARNING] = 0.0
        flags[i] = flag_of(state)


class DdmKernel(Kernel["DdmParams"]):
    name = "ddm"
    compiled = staticmethod(_update_many)

    def _param_values(self) -> list[float]:
        p = self.params
        return [float(p.warm_start), p.warning_threshold, p.drift_threshold]

    def fresh_state(self) -> Floats:
        return np.array([0.0, 0.0, 0.0, 0.0, np.nan, np.nan, np.inf], dtype=np.float64)

    def statistics_of(self, state: Floats) -> dict[str, float]:
        found = {"error_rate": float(state[_P]), "n": float(state[_N]), "p_min": float(state[_P_MIN]),
                 "s_min": float(state[_S_MIN])}
        return {k: v for k, v in found.items() if math.isfinite(v)}
