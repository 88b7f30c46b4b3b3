"""The one interface every compiled detector kernel offers: update over a whole column of values.

A kernel's state is a float64 array (slot 0: drift flag, slot 1: warning flag, then the detector's
own numbers) and its parameters another; a numba function updates the state over a column in one
call and marks, per value, whether the detector was in drift or warning right after it. Arithmetic
follows river's detectors operation by operation, so flags and statistics are bit-identical to
river's (tests/unit/test_kernels.py checks them against river on its docstring streams and on
random ones). The first call of a kernel compiles it (about a second each); numba's cache keeps the
result next to the module for later processes.
"""

import sys
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from numba import njit

from detectors.base import DRIFT, NONE, WARNING, ColumnResult, DriftDetector, Floats, P, Statistics, finite

DRIFT_SLOT, WARNING_SLOT = 0, 1
LITTLE_ENDIAN = sys.byteorder == "little"


@njit(cache=True)
def flag_of(state: Any) -> int:  # pragma: no cover (compiled)
    """The flag of a value, from the state right after it."""
    if state[DRIFT_SLOT] != 0.0:
        return DRIFT
    return WARNING if state[WARNING_SLOT] != 0.0 else NONE


@njit(cache=True)
def _remember(state: Any, checkpoint: Any, state_before: Any, checkpoint_before: Any) -> None:  # pragma: no cover
    state_before[:] = state
    checkpoint_before[:] = checkpoint


class Kernel(DriftDetector[P]):
    """A compiled drift detector over columns of float64 values.

    Besides its state, a kernel keeps a checkpoint: a copy of the state taken before every
    `every`-th value (positions given per call), which alert evidence reports as `before`. The
    state and checkpoint before the last column are kept too, so the statistics at any value of
    that column can be recomputed by replaying it up to there: alerts are rare, copies are cheap.
    """

    name: ClassVar[str]
    compiled: ClassVar[Any]
    """The numba function `(state, params, fresh, values, flags, checkpoint, due, every) -> None`.

    It resets to `fresh` after a drift, and copies the state into `checkpoint` before the values at
    `due`, `due + every`, ... (`due` -1: never). Each kernel writes those four lines at the head of
    its loop itself: a shared njit helper, even inlined, doubled a cheap kernel's time per value."""

    def __init__(self, params: P) -> None:
        super().__init__(params)
        self.param_array: Floats = np.asarray(self._param_values(), dtype=np.float64)
        self._fresh: Floats = self.fresh_state()
        self.state: Floats = self._fresh.copy()
        self.checkpoint: Floats = self._fresh.copy()
        self._last: tuple[Floats, Floats, Floats, int, int] | None = None
        self._before: tuple[Floats, Floats] = (self._fresh.copy(), self._fresh.copy())

    @abstractmethod
    def _param_values(self) -> list[float]:
        """The parameters in the order the compiled function reads them."""

    @abstractmethod
    def fresh_state(self) -> Floats:
        """The state of a detector that has seen nothing (also what the kernel resets to)."""

    @abstractmethod
    def statistics_of(self, state: Floats) -> Statistics:
        """A few numbers that explain a state (alert evidence, `driftline status`)."""

    def update_many(self, values: npt.ArrayLike, checkpoint_due: int = -1, checkpoint_every: int = 0) -> ColumnResult:
        column = np.ascontiguousarray(values, dtype=np.float64)
        flags = np.empty(column.shape[0], dtype=np.int8)  # every kernel writes every value's flag
        before = self._before
        # into buffers of our own, in one compiled call: many small columns (many models) made two new
        # arrays a call, then two numpy copies a call, a noticeable cost
        _remember(self.state, self.checkpoint, before[0], before[1])
        self._last = (before[0], before[1], column, checkpoint_due, checkpoint_every)
        self.compiled(self.state, self.param_array, self._fresh, column, flags, self.checkpoint, checkpoint_due,
                      checkpoint_every)
        return ColumnResult(flags)

    def statistics(self) -> Statistics:
        return finite(self.statistics_of(self.state))

    def checkpoint_statistics(self) -> Statistics:
        return finite(self.statistics_of(self.checkpoint))

    def evidence_at(self, position: int) -> tuple[Statistics, Statistics]:
        if self._last is None:
            return self.checkpoint_statistics(), self.statistics()
        state, checkpoint, column, due, every = self._last
        state, checkpoint = state.copy(), checkpoint.copy()
        prefix = column[: position + 1]
        self.compiled(state, self.param_array, self._fresh, prefix, np.zeros(prefix.shape[0], dtype=np.int8),
                      checkpoint, due, every)
        return finite(self.statistics_of(checkpoint)), finite(self.statistics_of(state))

    def reset(self) -> None:
        self.state = self._fresh.copy()
        self.checkpoint = self._fresh.copy()
        self._last = None

    def dump_state(self) -> bytes:
        """State then checkpoint, each as `compact` gives it, little-endian float64: no pickle, nothing
        to run when loaded."""
        numbers = np.concatenate([self.compact(self.state), self.compact(self.checkpoint)])
        return (numbers if LITTLE_ENDIAN else numbers.byteswap()).tobytes()

    def load_state(self, data: bytes) -> None:
        if len(data) % 8:
            raise ValueError(f"{self.name} state has {len(data)} bytes, not whole float64 numbers")
        arrays = np.frombuffer(data, dtype="<f8").astype(np.float64)
        size = self._fresh.size
        if arrays.size == 2 * size:  # full arrays (snapshot format 2, or a state that fills its arrays)
            state, checkpoint = arrays[:size].copy(), arrays[size:].copy()
        else:
            state, used = self.expand(arrays, 0)
            checkpoint, end = self.expand(arrays, used)
            if end != arrays.size:
                raise ValueError(f"{self.name} state has {arrays.size - end} numbers too many for these parameters")
        self.state, self.checkpoint, self._last = state, checkpoint, None

    def compact(self, state: Floats) -> Floats:
        """The numbers of `state` worth saving; a kernel whose arrays are mostly unused zeros says which."""
        return state

    def expand(self, numbers: Floats, start: int) -> tuple[Floats, int]:
        """The full state saved by `compact` from `numbers[start:]`, and where it ended."""
        size = self._fresh.size
        if numbers.size - start < size:
            raise ValueError(f"{self.name} state has {numbers.size - start} numbers, expected {size} for these "
                             "parameters")
        return numbers[start : start + size].copy(), start + size

    @property
    def drift_detected(self) -> bool:
        return bool(self.state[DRIFT_SLOT])

    @property
    def warning_detected(self) -> bool:
        return bool(self.state[WARNING_SLOT])
