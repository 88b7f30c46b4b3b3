"""PSI: population stability index of each tumbling window against the reference window.

>>> import random
>>> from detectors.psi import Psi, PsiParams
>>> rng = random.Random(7)
>>> stream = [rng.gauss(0, 1) for _ in range(1500)] + [rng.gauss(1, 1) for _ in range(500)]
>>> detector = Psi(PsiParams(reference_size=500, window_size=500))
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1999
"""

from typing import Any, Literal

from pydantic import Field

from detectors.base import DetectorParams, RiverDetector
from detectors.window_test import PsiScore, WindowTest


class PsiParams(DetectorParams):
    type: Literal["psi"] = "psi"
    reference_size: int = Field(default=1_000, ge=10)
    window_size: int = Field(default=1_000, ge=10)
    bins: int = Field(default=10, ge=2, le=100)
    threshold: float = Field(default=0.25, gt=0)


class Psi(RiverDetector[PsiParams]):
    name = "psi"

    def _build(self) -> Any:
        p = self.params
        return WindowTest(p.reference_size, p.window_size, PsiScore(p.bins, p.threshold))

    def _raw_statistics(self) -> dict[str, Any]:
        return {"psi": self._river.last_score, "windows": float(self._river.windows_tested)}
