"""The one small interface every detector adapter offers the monitor.

An adapter owns a river detector built from validated parameters. The monitor only needs: feed a
value, read the drift and warning flags, read a few statistics for alert evidence, and reset.
"""

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class DetectorParams(BaseModel):
    """Base of every detector's parameter model; `type` names the detector in config files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


P = TypeVar("P", bound=DetectorParams)


class DriftDetector(ABC, Generic[P]):
    """A drift detector over one stream of numbers."""

    name: ClassVar[str]
    binary: ClassVar[bool] = False
    """True for detectors of a 0/1 error stream (DDM family); the monitor feeds them the error bit."""

    def __init__(self, params: P) -> None:
        self.params = params
        self._river: Any = self._build()

    @abstractmethod
    def _build(self) -> Any:
        """A fresh river detector from self.params."""

    @abstractmethod
    def _raw_statistics(self) -> dict[str, Any]:
        """The detector's numbers as river holds them (may be None, NaN or infinite early on)."""

    def statistics(self) -> dict[str, float]:
        """A few finite numbers that explain the detector's current view (alert evidence, `driftline status`)."""
        return {k: float(v) for k, v in self._raw_statistics().items() if v is not None and math.isfinite(v)}

    def update(self, value: float) -> None:
        self._river.update(value)

    @property
    def drift_detected(self) -> bool:
        return bool(self._river.drift_detected)

    @property
    def warning_detected(self) -> bool:
        return bool(getattr(self._river, "warning_detected", False))

    def reset(self) -> None:
        self._river = self._build()

    @property
    def river_detector(self) -> Any:
        """The wrapped river object (what a snapshot saves)."""
        return self._river

    def restore(self, river_detector: Any) -> None:
        self._river = river_detector


def _mean_of(stat: Any) -> float:
    return float(stat.get()) if stat is not None else 0.0
