"""HDDM_W: Hoeffding's-bound drift detection on weighted (EWMA) averages (a 0/1 stream).

>>> import random
>>> from detectors.hddm_w import HddmW, HddmWParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> detector = HddmW(HddmWParams())
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1077
"""

from typing import Literal

from pydantic import Field

from detectors.base import DetectorParams
from detectors.kernels.hddm_w import HddmWKernel


class HddmWParams(DetectorParams):
    type: Literal["hddm_w"] = "hddm_w"
    drift_confidence: float = Field(default=0.001, gt=0, lt=1)
    warning_confidence: float = Field(default=0.005, gt=0, lt=1)
    lambda_val: float = Field(default=0.05, gt=0, le=1)
    two_sided_test: bool = False


class HddmW(HddmWKernel):
    """Compiled (detectors/kernels/hddm_w.py), with river's arithmetic."""

    binary = True
