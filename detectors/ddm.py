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

from typing import Literal

from pydantic import Field, model_validator

from detectors.base import DetectorParams
from detectors.kernels.ddm import DdmKernel


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


class Ddm(DdmKernel):
    """Compiled (detectors/kernels/ddm.py), with river's arithmetic."""

    binary = True
