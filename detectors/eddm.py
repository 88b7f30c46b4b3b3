"""EDDM: early drift detection from the distance between errors (a 0/1 stream).

>>> import random
>>> from detectors.eddm import Eddm, EddmParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> detector = Eddm(EddmParams(alpha=0.8, beta=0.75))
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1278
"""

from typing import Any, Literal

from pydantic import Field, model_validator
from river.drift import binary

from detectors.base import DetectorParams, DriftDetector


class EddmParams(DetectorParams):
    type: Literal["eddm"] = "eddm"
    warm_start: int = Field(default=30, ge=1)
    alpha: float = Field(default=0.95, gt=0, lt=1)
    beta: float = Field(default=0.9, gt=0, lt=1)

    @model_validator(mode="after")
    def _beta_below_alpha(self) -> "EddmParams":
        if self.beta >= self.alpha:
            raise ValueError("beta (drift level) must be below alpha (warning level)")
        return self


class Eddm(DriftDetector[EddmParams]):
    name = "eddm"
    binary = True

    def _build(self) -> Any:
        p = self.params
        return binary.EDDM(warm_start=p.warm_start, alpha=p.alpha, beta=p.beta)

    def _raw_statistics(self) -> dict[str, Any]:
        r = self._river
        return {"n": r._n, "errors": r._n_errors,
                "mean_error_distance": float(r._error_distances.mean.get())}
