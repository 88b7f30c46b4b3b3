"""KSWIN: a Kolmogorov-Smirnov test between a sliding window's recent and older values.

Unlike river, the seed defaults to 0: KSWIN samples at random, and a fixed seed is what makes the
live pipeline and the backtest raise the same alerts.

>>> import random
>>> from detectors.kswin import Kswin, KswinParams
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> detector = Kswin(KswinParams(alpha=0.0001, seed=42))
>>> for i, x in enumerate(stream):
...     detector.update(x)
...     if detector.drift_detected:
...         print(i)
1016
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from detectors.base import DetectorParams, RiverDetector


class KswinParams(DetectorParams):
    type: Literal["kswin"] = "kswin"
    alpha: float = Field(default=0.005, gt=0, lt=1)
    window_size: int = Field(default=100, ge=2)
    stat_size: int = Field(default=30, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _stat_fits_window(self) -> "KswinParams":
        if self.stat_size >= self.window_size:
            raise ValueError(f"stat_size ({self.stat_size}) must be smaller than window_size ({self.window_size})")
        return self


class Kswin(RiverDetector[KswinParams]):
    name = "kswin"

    def _build(self) -> Any:
        from river import drift  # river's KSWIN pulls in scipy.stats (0.6 s): paid only by those who use it

        p = self.params
        return drift.KSWIN(alpha=p.alpha, window_size=p.window_size, stat_size=p.stat_size, seed=p.seed)

    def _raw_statistics(self) -> dict[str, Any]:
        r = self._river
        return {"p_value": r.p_value, "n": r.n, "window": len(r.window)}
