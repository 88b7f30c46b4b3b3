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

from typing import Any, Literal

from pydantic import Field
from river.drift import binary

from detectors.base import DetectorParams, DriftDetector


class HddmWParams(DetectorParams):
    type: Literal["hddm_w"] = "hddm_w"
    drift_confidence: float = Field(default=0.001, gt=0, lt=1)
    warning_confidence: float = Field(default=0.005, gt=0, lt=1)
    lambda_val: float = Field(default=0.05, gt=0, le=1)
    two_sided_test: bool = False


class HddmW(DriftDetector[HddmWParams]):
    name = "hddm_w"
    binary = True

    def _build(self) -> Any:
        p = self.params
        return binary.HDDMW(drift_confidence=p.drift_confidence, warning_confidence=p.warning_confidence,
                            lambda_val=p.lambda_val, two_sided_test=p.two_sided_test)

    def _raw_statistics(self) -> dict[str, Any]:
        r = self._river
        return {"incr_cutpoint": r._incr_cutpoint, "decr_cutpoint": r._decr_cutpoint}
