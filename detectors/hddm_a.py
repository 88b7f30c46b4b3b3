"""HDDM_A: Hoeffding's-bound drift detection on moving averages (a 0/1 stream).

>>> import random
>>> from detectors.hddm_a import HddmA, HddmAParams
>>> rng = random.Random(42)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
>>> detector = HddmA(HddmAParams())
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1206
"""

from typing import Literal

from pydantic import Field

from detectors.base import DetectorParams
from detectors.kernels.hddm_a import HddmAKernel


class HddmAParams(DetectorParams):
    type: Literal["hddm_a"] = "hddm_a"
    drift_confidence: float = Field(default=0.001, gt=0, lt=1)
    warning_confidence: float = Field(default=0.005, gt=0, lt=1)
    two_sided_test: bool = False


class HddmA(HddmAKernel):
    """Compiled (detectors/kernels/hddm_a.py), with river's arithmetic."""

    binary = True
