"""The one small interface every detector offers the monitor: update over a column of values.

A detector is built from validated parameters. The monitor feeds it a whole column of one
signal's values at a time and gets back a flag per value (none, warning, drift); for the rare
values that raise an alert it asks for evidence: the detector's statistics at the last checkpoint
before that value and right after it. Checkpoints are taken before every `every`-th value, at
positions the monitor derives from the signal's update count, so they fall on the same values
however the stream is cut into columns (live batches or a backtest file).

Two implementations: compiled kernels (detectors/kernels/, state in float64 arrays, most
detectors) and `RiverDetector`, which wraps a Python object updated value by value (KSWIN and the
window tests).
"""

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from detectors import safe_pickle

NONE, WARNING, DRIFT = 0, 1, 2  # per-value flags
Floats = npt.NDArray[np.float64]
Statistics = dict[str, float]


class DetectorParams(BaseModel):
    """Base of every detector's parameter model; `type` names the detector in config files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


P = TypeVar("P", bound=DetectorParams)


@dataclass(frozen=True)
class ColumnResult:
    """What one column did to a detector: a flag per value (NONE, WARNING or DRIFT)."""

    flags: npt.NDArray[np.int8]

    @property
    def drifts(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.flags == DRIFT)

    @property
    def warnings(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.flags == WARNING)


class DriftDetector(ABC, Generic[P]):
    """A drift detector over one stream of numbers, fed a column at a time."""

    name: ClassVar[str]
    binary: ClassVar[bool] = False
    """True for detectors of a 0/1 error stream (DDM family); the monitor feeds them the error bit."""

    def __init__(self, params: P) -> None:
        self.params = params

    @abstractmethod
    def update_many(self, values: npt.ArrayLike, checkpoint_due: int = -1, checkpoint_every: int = 0) -> ColumnResult:
        """Feed a column; checkpoints are taken before values `due`, `due + every`, ... (`due` -1: none)."""

    def update(self, value: float) -> None:
        self.update_many(np.array([value], dtype=np.float64))

    @property
    @abstractmethod
    def drift_detected(self) -> bool: ...

    @property
    @abstractmethod
    def warning_detected(self) -> bool: ...

    @abstractmethod
    def statistics(self) -> Statistics:
        """A few finite numbers that explain the detector's current view (alert evidence, `driftline status`)."""

    @abstractmethod
    def checkpoint_statistics(self) -> Statistics:
        """The statistics at the last checkpoint."""

    @abstractmethod
    def evidence_at(self, position: int) -> tuple[Statistics, Statistics]:
        """Statistics at the last checkpoint up to `position` of the last column, and right after that value."""

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def dump_state(self) -> bytes:
        """The detector's state for a snapshot (the parameters are saved beside it)."""

    @abstractmethod
    def load_state(self, data: bytes) -> None:
        """Put back what `dump_state` gave; raises ValueError when it does not fit these parameters."""


def finite(statistics: dict[str, Any]) -> Statistics:
    return {k: float(v) for k, v in statistics.items() if v is not None and math.isfinite(v)}


class RiverDetector(DriftDetector[P]):
    """A detector held as a Python object (river's, or a window test), updated value by value.

    Its state is saved with the restricted pickle of detectors/safe_pickle.py; compiled kernels
    need no pickle at all."""

    def __init__(self, params: P) -> None:
        super().__init__(params)
        self._river: Any = self._build()
        self._checkpoint: Statistics = {}
        self._evidence: dict[int, tuple[Statistics, Statistics]] = {}

    @abstractmethod
    def _build(self) -> Any:
        """A fresh detector object from self.params."""

    @abstractmethod
    def _raw_statistics(self) -> dict[str, Any]:
        """The detector's numbers as the object holds them (may be None, NaN or infinite early on)."""

    def update_many(self, values: npt.ArrayLike, checkpoint_due: int = -1, checkpoint_every: int = 0) -> ColumnResult:
        column = np.asarray(values, dtype=np.float64)
        flags = np.zeros(column.shape[0], dtype=np.int8)
        self._evidence = {}
        river, due = self._river, checkpoint_due
        for i, x in enumerate(column.tolist()):
            if i == due:
                self._checkpoint = self.statistics()
                due += checkpoint_every
            river.update(x)
            if river.drift_detected:
                flags[i] = DRIFT
            elif getattr(river, "warning_detected", False):
                flags[i] = WARNING
            else:
                continue
            self._evidence[i] = (self._checkpoint, self.statistics())
        return ColumnResult(flags)

    @property
    def drift_detected(self) -> bool:
        return bool(self._river.drift_detected)

    @property
    def warning_detected(self) -> bool:
        return bool(getattr(self._river, "warning_detected", False))

    def statistics(self) -> Statistics:
        return finite(self._raw_statistics())

    def checkpoint_statistics(self) -> Statistics:
        return self._checkpoint

    def evidence_at(self, position: int) -> tuple[Statistics, Statistics]:
        return self._evidence.get(position, (self._checkpoint, self.statistics()))

    def reset(self) -> None:
        self._river = self._build()
        self._checkpoint, self._evidence = {}, {}

    def dump_state(self) -> bytes:
        return safe_pickle.dumps((self._river, self._checkpoint))

    def load_state(self, data: bytes) -> None:
        try:
            self._river, self._checkpoint = safe_pickle.loads(data)
        except Exception as exc:  # any unpickling failure means an unusable state
            raise ValueError(f"{self.name} state cannot be restored: {exc}") from exc


def _mean_of(stat: Any) -> float:
    return float(stat.get()) if stat is not None else 0.0
