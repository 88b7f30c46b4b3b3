"""ADWIN: adaptive windowing; drift when two sub-windows have significantly different means.

>>> import random
>>> from detectors.adwin import Adwin, AdwinParams
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> detector = Adwin(AdwinParams())
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1023
"""

from typing import Any, Literal

from pydantic import Field
from river import drift

from detectors.base import DetectorParams, DriftDetector


class AdwinParams(DetectorParams):
    type: Literal["adwin"] = "adwin"
    delta: float = Field(default=0.002, gt=0, lt=1)
    clock: int = Field(default=32, ge=1)
    max_buckets: int = Field(default=5, ge=2)
    min_window_length: int = Field(default=5, ge=1)
    grace_period: int = Field(default=10, ge=1)


class Adwin(DriftDetector[AdwinParams]):
    name = "adwin"

    def _build(self) -> Any:
        p = self.params
        return drift.ADWIN(delta=p.delta, clock=p.clock, max_buckets=p.max_buckets,
                           min_window_length=p.min_window_length, grace_period=p.grace_period)

    def _raw_statistics(self) -> dict[str, Any]:
        r = self._river
        return {"width": r.width, "mean": r.estimation, "variance": r.variance,
                "detections": r.n_detections}
