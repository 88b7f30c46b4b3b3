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

from typing import Any, Literal

from pydantic import Field
from river import drift

from detectors.base import DetectorParams, DriftDetector, _mean_of


class PageHinkleyParams(DetectorParams):
    type: Literal["page_hinkley"] = "page_hinkley"
    min_instances: int = Field(default=30, ge=1)
    delta: float = Field(default=0.005, ge=0)
    threshold: float = Field(default=50.0, gt=0)
    alpha: float = Field(default=1 - 0.0001, gt=0, le=1)
    mode: Literal["up", "down", "both"] = "both"


class PageHinkley(DriftDetector[PageHinkleyParams]):
    name = "page_hinkley"

    def _build(self) -> Any:
        p = self.params
        return drift.PageHinkley(min_instances=p.min_instances, delta=p.delta, threshold=p.threshold,
                                 alpha=p.alpha, mode=p.mode)

    def _raw_statistics(self) -> dict[str, Any]:
        r = self._river
        return {
            "mean": _mean_of(r._x_mean),
            "n": r._x_mean.n,
            "test_increase": r._sum_increase - r._min_increase,
            "test_decrease": r._max_decrease - r._sum_decrease,
            "threshold": r.threshold,
        }
