"""CUSUMs of indicator rates over a column: each value falls in a cell, and each watched set of cells
has a one-sided Bernoulli log-likelihood-ratio CUSUM for its rate rising above the reference's.

A value maps to its cell through sorted `edges` (the number of edges at or below it) or, with no
edges, is the cell itself (a 0/1 bit, a category code). Per value and watched set, the statistic
moves by a precomputed increment per cell (its log-likelihood ratio, detectors/rate_cusum.py) and
is floored at zero. A drift is the first value that takes any statistic above the threshold; the
detector then stays quiet until every statistic is back at zero, so a shift that persists raises one
alert, not one every few dozen values, and a stream that returns to the reference re-arms it.

>>> import numpy as np
>>> from detectors.kernels.rate_cusum import RateCusumKernel
>>> from detectors.rate_cusum import RateCusumParams
>>> rng = np.random.default_rng(7)
>>> bits = np.concatenate([rng.random(2000) < 0.1, rng.random(1000) < 0.4]).astype(float)
>>> params = RateCusumParams(watch="rate", rates=[0.1], threshold=12.0)
>>> RateCusumKernel(params).update_many(bits).drifts.tolist()[:1]
[2053]
"""

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel

if TYPE_CHECKING:
    from detectors.rate_cusum import RateCusumParams  # noqa: F401 (named as a string in the base class)

_DRIFT, _WARNING, _N, _LATCHED, _FIRST_SUM = 0, 1, 2, 3, 4
# params: cells, watched sets, threshold, edges count, the edges, then one row of increments per set
_CELLS, _SETS, _THRESHOLD, _EDGES, _HEAD = 0, 1, 2, 3, 4


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    cells, sets, threshold, n_edges = int(params[_CELLS]), int(params[_SETS]), params[_THRESHOLD], int(params[_EDGES])
    increments = _HEAD + n_edges
    for i in range(values.shape[0]):
        if i == due:
            checkpoint[:] = state
            due += every
        x = values[i]
        state[_DRIFT] = 0.0
        if n_edges > 0:
            cell = 0
            while cell < n_edges and params[_HEAD + cell] <= x:
                cell += 1
        else:
            cell = min(max(int(x), 0), cells - 1)
        state[_N] += 1.0
        above, busy = False, False
        for j in range(sets):
            s = state[_FIRST_SUM + j] + params[increments + j * cells + cell]
            if s < 0.0:
                s = 0.0
            state[_FIRST_SUM + j] = s
            if s > threshold:
                above = True
            if s > 0.0:
                busy = True
        if above and state[_LATCHED] == 0.0:
            state[_DRIFT] = 1.0
            state[_LATCHED] = 1.0
            flags[i] = 2
        else:
            if not busy:
                state[_LATCHED] = 0.0
            flags[i] = 0


class RateCusumKernel(Kernel["RateCusumParams"]):
    name = "rate_cusum"
    compiled = staticmethod(_update_many)

    def _param_values(self) -> list[float]:
        p = self.params
        rows = p.increment_rows()
        return [float(p.cell_count()), float(len(rows)), p.threshold, float(len(p.edges)), *p.edges,
                *(x for row in rows for x in row)]

    def fresh_state(self) -> Floats:
        return np.zeros(_FIRST_SUM + self.params.statistics_count(), dtype=np.float64)

    def statistics_of(self, state: Floats) -> dict[str, float]:
        sums = state[_FIRST_SUM:]
        found = {"n": float(state[_N]), "cusum_max": float(sums.max()) if sums.size else 0.0,
                 "threshold": self.params.threshold, "in_drift": float(state[_LATCHED])}
        found.update({f"cusum_{j}": float(s) for j, s in enumerate(sums.tolist())})
        return found
