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

from typing import Literal

from pydantic import Field, model_validator

from detectors.base import DetectorParams
from detectors.kernels.eddm import EddmKernel


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


class Eddm(EddmKernel):
    """Compiled (detectors/kernels/eddm.py), with river's arithmetic."""

    binary = True
