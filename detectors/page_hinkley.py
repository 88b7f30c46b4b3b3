"""Page-Hinkley: a cumulative-sum test for a change in the mean.

>>> import random
>>> from detectors.page_hinkley import PageHinkley, PageHinkleyParams
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> detector = PageHinkley(PageHinkleyParams())
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1006
"""

from typing import Literal

from pydantic import Field

from detectors.base import DetectorParams
from detectors.kernels.page_hinkley import PageHinkleyKernel


class PageHinkleyParams(DetectorParams):
    type: Literal["page_hinkley"] = "page_hinkley"
    min_instances: int = Field(default=30, ge=1)
    delta: float = Field(default=0.005, ge=0)
    threshold: float = Field(default=50.0, gt=0)
    alpha: float = Field(default=1 - 0.0001, gt=0, le=1)
    mode: Literal["up", "down", "both"] = "both"


class PageHinkley(PageHinkleyKernel):
    """Compiled (detectors/kernels/page_hinkley.py), with river's arithmetic."""
