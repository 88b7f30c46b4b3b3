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

from typing import Literal

from pydantic import Field

from detectors.base import DetectorParams
from detectors.kernels.adwin import AdwinKernel


class AdwinParams(DetectorParams):
    type: Literal["adwin"] = "adwin"
    delta: float = Field(default=0.002, gt=0, lt=1)
    clock: int = Field(default=32, ge=1)
    max_buckets: int = Field(default=5, ge=2)
    min_window_length: int = Field(default=5, ge=1)
    grace_period: int = Field(default=10, ge=1)


class Adwin(AdwinKernel):
    """Compiled (detectors/kernels/adwin.py), with river's arithmetic."""
