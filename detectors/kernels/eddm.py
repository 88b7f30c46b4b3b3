"""EDDM over a column of 0/1 errors, as river.drift.binary.EDDM does one value at a time.

>>> import random
>>> from detectors.kernels.eddm import EddmKernel
>>> from detectors.eddm import EddmParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> EddmKernel(EddmParams(alpha=0.8, beta=0.75)).update_many(stream).drifts.tolist()
[1278]
"""

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel, flag_of

if TYPE_CHECKING:
    from detectors.eddm import EddmParams  # noqa: F401 (named as a string in the base class)

_DRIFT, _WARNING, _VAR_N, _VAR_MEAN, _VAR_S, _N, _LAST_ERROR, _N_ERRORS, _P2S_MAX = range(9)


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    warm_start, alpha, beta = params[0], params[1], params[2]
    for i in range(values.shape[0]):
        if i == due:
            checkpoint[:] = state
            due += every
        x = values[i]
        if state[_DRIFT] != 0.0:
            state[:] = fresh
        state[_N] += 1.0
        if x == 1.0:
            state[_N_ERRORS] += 1.0
            distance = state[_N] - state[_LAST_ERROR]
            mean_old = state[_VAR_MEAN]
            state[_VAR_N] += 1.0
            state[_VAR_MEAN] += (1.0 / state[_VAR_N]) * (distance - state[_VAR_MEAN])
            state[_VAR_S] += 1.0 * (distance - mean_old) * (distance - state[_VAR_MEAN])
            if state[_N] > warm_start:
                pi_prime = state[_VAR_MEAN]
                variance = state[_VAR_S] / (state[_VAR_N] - 1.0) if state[_VAR_N] > 1.0 else 0.0
                si_prime = variance ** 0.5
                p2s_prime = pi_prime + 2 * si_prime
                if p2s_prime > state[_P2S_MAX]:
                    state[_P2S_MAX] = p2s_prime
                elif state[_N_ERRORS] > warm_start:
                    level = p2s_prime / state[_P2S_MAX]
                    if level < beta:
                        state[_DRIFT] = 1.0
                    elif level < alpha:
                        state[_WARNING] = 1.0
                    else:
                        state[_WARNING] = 0.0
            state[_LAST_ERROR] = state[_N]
        flags[i] = flag_of(state)


class EddmKernel(Kernel["EddmParams"]):
    name = "eddm"
    compiled = staticmethod(_update_many)

    def _param_values(self) -> list[float]:
        p = self.params
        return [float(p.warm_start), p.alpha, p.beta]

    def fresh_state(self) -> Floats:
        state = np.zeros(9, dtype=np.float64)
        state[_P2S_MAX] = -1.0
        return state

    def statistics_of(self, state: Floats) -> dict[str, float]:
        return {"n": float(state[_N]), "mean_error_distance": float(state[_VAR_MEAN])}
