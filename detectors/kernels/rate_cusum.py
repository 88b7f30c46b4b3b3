"""CUSUMs of indicator rates over a column: each value falls in a cell, and each watched set of cells
has a one-sided Bernoulli log-likelihood-ratio CUSUM for its rate rising above the reference's.

A value maps to its cell through sorted `edges` (the number of edges at or below it) or, with no
edges, is the cell itself (a 0/1 bit, a category code). Per value and watched set, the statistic
moves by a precomputed increment per cell (its log-likelihood ratio, detectors/rate_cusum.py) and
is floored at zero. A drift is the first value that takes any statistic above the threshold; the
detector then stays quiet until every statistic is back at zero, so a shift that persists raises one
alert, not one every few dozen values, and a stream that returns to the reference re-arms it. The
state also counts the values per cell since the monitor last took them (`take_chunk`): what a
maturing reference may absorb.

>>> import numpy as np
>>> from detectors.kernels.rate_cusum import RateCusumKernel
>>> from detectors.rate_cusum import RateCusumParams
>>> rng = np.random.default_rng(7)
>>> bits = np.concatenate([rng.random(2000) < 0.1, rng.random(1000) < 0.4]).astype(float)
>>> params = RateCusumParams(watch="rate", rates=[0.1], threshold=12.0)
>>> RateCusumKernel(params).update_many(bits).drifts.tolist()[:1]
[2036]
"""

from typing import TYPE_CHECKING, Any, Self

import numpy as np
from numba import njit

from detectors.base import Floats
from detectors.kernels.base import Kernel

if TYPE_CHECKING:
    from detectors.rate_cusum import RateCusumParams

_DRIFT, _WARNING, _N, _LATCHED, _FIRST_SUM = 0, 1, 2, 3, 4
# params: cells, watched sets, threshold, edges count, the edges, then one row of increments per set
_CELLS, _SETS, _THRESHOLD, _EDGES, _HEAD = 0, 1, 2, 3, 4


@njit(cache=True)
def _update_many(state: Any, params: Any, fresh: Any, values: Any, flags: Any, checkpoint: Any, due: int,
                 every: int) -> None:  # pragma: no cover (compiled)
    cells, sets, threshold, n_edges = int(params[_CELLS]), int(params[_SETS]), params[_THRESHOLD], int(params[_EDGES])
    increments = _HEAD + n_edges
    chunk = _FIRST_SUM + sets
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
        state[chunk + cell] += 1.0
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

    def __init__(self, params: "RateCusumParams") -> None:
        super().__init__(params)
        self._labels = params.row_labels()
        self._chunk = _FIRST_SUM + params.statistics_count()

    def fresh_state(self) -> Floats:
        return np.zeros(_FIRST_SUM + self.params.statistics_count() + self.params.cell_count(), dtype=np.float64)

    def load_state(self, data: bytes) -> None:
        """Also a state saved before chunks were counted (snapshot format 5): its chunk starts empty."""
        cells = self.params.cell_count()
        if len(data) == 2 * 8 * (self._fresh.size - cells):
            half, pad = len(data) // 2, bytes(8 * cells)
            data = data[:half] + pad + data[half:] + pad
        super().load_state(data)

    def chunk(self) -> list[float]:
        """The values per cell since the chunk was last taken."""
        counts: list[float] = self.state[self._chunk :].tolist()
        return counts

    def take_chunk(self) -> list[float]:
        """The values per cell since the chunk was last taken, and start a new one."""
        counts = self.chunk()
        self.state[self._chunk :] = 0.0
        return counts

    def with_params(self, params: "RateCusumParams") -> Self:
        """A kernel with new reference rates (a matured reference) and this one's state: the statistics
        and cells are the same, only the increments move."""
        kernel = type(self)(params)
        kernel.state, kernel.checkpoint = self.state.copy(), self.checkpoint.copy()
        return kernel

    def statistics_of(self, state: Floats) -> dict[str, float]:
        """The largest statistic, which alternative it is tuned to (an odds ratio, below 1 a fall; location:
        a signed shift) and for which set (a category's code, a spread's 0 tails or 1 middle)."""
        sums = state[_FIRST_SUM : self._chunk]
        top = int(sums.argmax()) if sums.size else 0
        watched, alternative = self._labels[top] if self._labels else (0, 0.0)
        found = {"n": float(state[_N]), "cusum_max": float(sums[top]) if sums.size else 0.0,
                 "threshold": self.params.threshold, "in_drift": float(state[_LATCHED]),
                 "reference_n": float(self.params.reference_size)}
        if self.params.watch == "location":
            found["shift"] = watched * alternative
        elif self.params.watch == "scale":
            found["scale"] = alternative
        else:
            found.update({"odds_ratio": alternative, "set": float(watched)})
        return found
