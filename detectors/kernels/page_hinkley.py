"""Page-Hinkley over a column, as river.drift.PageHinkley does one value at a time.

>>> import random
>>> from detectors.kernels.page_hinkley import PageHinkleyKernel
>>> from detectors.page_hinkley import PageHinkleyParams
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> PageHinkleyKernel(PageHinkleyParams()).update_many(stream).drifts.tolist()
[1006]
"""

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel, flag_of

if TYPE_CHECKING:
    from detectors.page_hinkley import PageHinkleyParams  # noqa: F401 (named as a string in the base class)

MODES = {"up": 0.0, "down": 1.0, "both": 2.0}
# state slots
_DRIFT, _WARNING, _N, _MEAN, _SUM_INC, _SUM_DEC, _MIN_INC, _MAX_DEC = range(8)


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    min_instances, delta, threshold, alpha, mode = params[0], params[1], params[2], params[3], params[4]
    for i in range(values.shape[0]):
        if i == due:
            checkpoint[:] = state
            due += every
        x = values[i]
        if state[_DRIFT] != 0.0:
            state[:] = fresh
        state[_N] += 1.0
        state[_MEAN] += (1.0 / state[_N]) * (x - state[_MEAN])
        dev = x - state[_MEAN]
        state[_SUM_INC] = alpha * state[_SUM_INC] + dev - delta
        state[_SUM_DEC] = alpha * state[_SUM_DEC] + dev + delta
        if state[_SUM_INC] < state[_MIN_INC]:
            state[_MIN_INC] = state[_SUM_INC]
        if state[_SUM_DEC] > state[_MAX_DEC]:
            state[_MAX_DEC] = state[_SUM_DEC]
        if state[_N] >= min_instances:
            test_increase = state[_SUM_INC] - state[_MIN_INC]
            test_decrease = state[_MAX_DEC] - state[_SUM_DEC]
            if mode == 0.0:
                drift = test_increase > threshold
            elif mode == 1.0:
                drift = test_decrease > threshold
            else:
                drift = test_increase > threshold or test_decrease > threshold
            state[_DRIFT] = 1.0 if drift else 0.0
        flags[i] = flag_of(state)


class PageHinkleyKernel(Kernel["PageHinkleyParams"]):
    name = "page_hinkley"
    compiled = staticmethod(_update_many)

    def _param_values(self) -> list[float]:
        p = self.params
        return [float(p.min_instances), p.delta, p.threshold, p.alpha, MODES[p.mode]]

    def fresh_state(self) -> Floats:
        state = np.zeros(8, dtype=np.float64)
        state[_MIN_INC] = np.inf
        state[_MAX_DEC] = -1.0
        return state

    def statistics_of(self, state: Floats) -> dict[str, float]:
        return {"mean": float(state[_MEAN]), "n": float(state[_N]),
                "test_increase": float(state[_SUM_INC] - state[_MIN_INC]),
                "test_decrease": float(state[_MAX_DEC] - state[_SUM_DEC]), "threshold": self.params.threshold}
