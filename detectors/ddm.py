"""DDM: drift detection method on the error rate of a classifier (a 0/1 stream).

>>> import random
>>> from detectors.ddm import Ddm, DdmParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> detector = Ddm(DdmParams())
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1334
"""

from typing import Any, Literal

from pydantic import Field, model_validator
from river.drift import binary

from detectors.base import DetectorParams, DriftDetector, _mean_of


class DdmParams(DetectorParams):
    type: Literal["ddm"] = "ddm"
    warm_start: int = Field(default=30, ge=1)
    warning_threshold: float = Field(default=2.0, gt=0)
    drift_threshold: float = Field(default=3.0, gt=0)

    @model_validator(mode="after")
    def _warning_before_drift(self) -> "DdmParams":
        if self.warning_threshold >= self.drift_threshold:
            raise ValueError("warning_threshold must be below drift_threshold")
        return self


class Ddm(DriftDetector[DdmParams]):
    name = "ddm"
    binary = True

    def _build(self) -> Any:
        p = self.params
        return binary.DDM(warm_start=p.warm_start, warning_threshold=p.warning_threshold,
                          drift_threshold=p.drift_threshold)

    def _raw_statistics(self) -> dict[str, Any]:
        r = self._river
        return {"error_rate": _mean_of(r._p), "n": r._p.n, "p_min": r._p_min,
                "s_min": r._s_min}
