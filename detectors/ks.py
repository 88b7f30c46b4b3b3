"""KS: two-sample Kolmogorov-Smirnov test of each tumbling window against the reference window.

>>> import random
>>> from detectors.ks import Ks, KsParams
>>> rng = random.Random(7)
>>> stream = [rng.gauss(0, 1) for _ in range(1500)] + [rng.gauss(1, 1) for _ in range(500)]
>>> detector = Ks(KsParams(reference_size=500, window_size=500))
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1999
"""

from typing import Any, Literal

from pydantic import Field

from detectors.base import DetectorParams, RiverDetector
from detectors.window_test import KsScore, WindowTest


class KsParams(DetectorParams):
    type: Literal["ks"] = "ks"
    reference_size: int = Field(default=1_000, ge=10)
    window_size: int = Field(default=1_000, ge=10)
    alpha: float = Field(default=0.001, gt=0, lt=1)


class Ks(RiverDetector[KsParams]):
    name = "ks"

    def _build(self) -> Any:
        p = self.params
        return WindowTest(p.reference_size, p.window_size, KsScore(p.alpha))

    def _raw_statistics(self) -> dict[str, Any]:
        return {"p_value": self._river.last_score, "windows": float(self._river.windows_tested)}
