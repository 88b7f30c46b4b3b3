"""The one interface every compiled detector kernel offers: update over a whole column of values.

A kernel's state is a float64 array (slot 0: drift flag, slot 1: warning flag, then the detector's
own numbers) and its parameters another; a numba function updates the state over a column in one
call and marks, per value, whether the detector was in drift or warning right after it. Arithmetic
follows river's detectors operation by operation, so flags and statistics are bit-identical to
river's (tests/unit/test_kernels.py checks them against river on its docstring streams and on
random ones). The first call of a kernel compiles it (about a second each); numba's cache keeps the
result next to the module for later processes.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from numba import njit

from detectors.base import DetectorParams

NONE, WARNING, DRIFT = 0, 1, 2  # per-value flags
DRIFT_SLOT, WARNING_SLOT = 0, 1

P = TypeVar("P", bound=DetectorParams)


@njit(cache=True)
def flag_of(state: Any) -> int:  # pragma: no cover (compiled)
    """The flag of a value, from the state right after it."""
    if state[DRIFT_SLOT] != 0.0:
        return DRIFT
    return WARNING if state[WARNING_SLOT] != 0.0 else NONE
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class KernelResult:
    """What one column did to a detector: a flag per value (NONE, WARNING or DRIFT)."""

    flags: npt.NDArray[np.int8]

    @property
    def drifts(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.flags == DRIFT)

    @property
    def warnings(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.flags == WARNING)


class Kernel(ABC, Generic[P]):
    """A compiled drift detector over columns of float64 values."""

    name: ClassVar[str]
    compiled: ClassVar[Any]
    """The numba function `(state, params, fresh, values, flags) -> None`; it resets to `fresh` after a drift."""

    def __init__(self, params: P) -> None:
        self.params = params
        self.param_array: Floats = np.asarray(self._param_values(), dtype=np.float64)
        self._fresh: Floats = self.fresh_state()
        self.state: Floats = self._fresh.copy()

    @abstractmethod
    def _param_values(self) -> list[float]:
        """The parameters in the order the compiled function reads them."""

    @abstractmethod
    def fresh_state(self) -> Floats:
        """The state of a detector that has seen nothing (also what the kernel resets to)."""

    def update_many(self, values: npt.ArrayLike) -> KernelResult:
        column = np.ascontiguousarray(values, dtype=np.float64)
        flags = np.zeros(column.shape[0], dtype=np.int8)
        self.compiled(self.state, self.param_array, self._fresh, column, flags)
        return KernelResult(flags)

    def reset(self) -> None:
        self.state = self._fresh.copy()

    @property
    def drift_detected(self) -> bool:
        return bool(self.state[DRIFT_SLOT])

    @property
    def warning_detected(self) -> bool:
        return bool(self.state[WARNING_SLOT])
